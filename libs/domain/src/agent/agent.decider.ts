import { assertNever, type Decider } from '../shared/decider';
import { conflict, DomainError, notFound, unprocessable } from '../shared/domain-error';
import type { CommandContext } from '../shared/event';
import {
  applyAgentDefinitionPatch,
  normalizeAgentDefinition,
  validateAgentAction,
  validationFailed,
  type ValidationIssue,
} from './agent-definition.validation';
import {
  DECISION_INPUT_KINDS,
  MESSAGE_SENDER_KINDS,
  type AgentCommand,
  type DecisionEngine,
  type DecisionInput,
  type DecisionPlacement,
  type DecisionUsage,
  type DefineAgent,
  type ReceiveMessage,
  type RecordActionResult,
  type RecordDecision,
  type RecordDecisionCancellation,
  type RecordDecisionFailure,
  type ReconfigureAgent,
} from './agent.commands';
import { toolForAction, type AgentAction, type AgentDefinition } from './agent.definition';
import type { AgentEvent, IndexedAgentAction } from './agent.events';
import { appendToWindow, initialAgentState, type AgentState, type DefinedAgentState, type OpenDecision } from './agent.state';

export const MAX_AGENT_MESSAGE_LENGTH = 10_000;

const agentNotFound = (agentId: string) => notFound('AGENT_NOT_FOUND', `Agent ${agentId} does not exist`, { agentId });
const agentRetired = (agentId: string) => new DomainError('AGENT_RETIRED', 'gone', `Agent ${agentId} is retired`, { agentId });

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isNonBlank = (value: unknown): value is string => typeof value === 'string' && value.trim().length > 0;
const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isAmount = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));

/** Own entries only: ids are client data and must never resolve to Object.prototype members. */
const openDecision = (agent: DefinedAgentState, decisionId: string): OpenDecision | undefined =>
  Object.hasOwn(agent.openDecisions, decisionId) ? agent.openDecisions[decisionId] : undefined;

function existing(state: AgentState, agentId: string): DefinedAgentState {
  if (state === null) throw agentNotFound(agentId);
  return state;
}

/** An existing agent that is not retired. */
function living(state: AgentState, agentId: string): DefinedAgentState {
  const agent = existing(state, agentId);
  if (agent.status === 'retired') throw agentRetired(agent.id);
  return agent;
}

function define(command: DefineAgent, state: AgentState): AgentEvent[] {
  const { agentId, definition } = command.data;
  if (state !== null) throw conflict('AGENT_ALREADY_EXISTS', `Agent ${state.id} already exists`, { agentId: state.id });
  if (!isNonBlank(agentId)) throw validationFailed([{ path: 'agentId', message: 'is required' }]);
  return [{ type: 'agent.defined', data: { agentId, definition: normalizeAgentDefinition(definition), version: 1 } }];
}

/** In the order the definition lists them, so `changed` reads the same whatever the patch's order. */
const DEFINITION_FIELDS: readonly (keyof AgentDefinition)[] = [
  'name',
  'description',
  'kind',
  'instructions',
  'subscriptions',
  'engine',
  'tools',
  'budgets',
  'mailboxPolicy',
  'tags',
  'approvals',
];

function changedFields(before: AgentDefinition, after: AgentDefinition): (keyof AgentDefinition)[] {
  return DEFINITION_FIELDS.filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
}

function reconfigure(command: ReconfigureAgent, state: AgentState): AgentEvent[] {
  const agent = living(state, command.data.agentId);
  const definition = normalizeAgentDefinition(applyAgentDefinitionPatch(agent.definition, command.data.changes));
  const changed = changedFields(agent.definition, definition);
  // Asking for the definition the agent already has makes no new version.
  if (changed.length === 0) return [];
  return [{ type: 'agent.reconfigured', data: { agentId: agent.id, definition, version: agent.version + 1, changed } }];
}

function hasDecision(agent: DefinedAgentState, decisionId: string): boolean {
  return openDecision(agent, decisionId) !== undefined || agent.recentDecisionIds.includes(decisionId);
}

function validateDecision(data: RecordDecision['data'], agent: DefinedAgentState): AgentAction[] {
  const issues: ValidationIssue[] = [];
  const { input, engine, usage } = data;
  if (!isRecord(input) || !(DECISION_INPUT_KINDS as readonly unknown[]).includes(input.kind) || !isNonBlank(input.ref)) {
    issues.push({ path: 'input', message: `must be { kind: ${DECISION_INPUT_KINDS.join(' | ')}, ref, payload }` });
  }
  if (!isRecord(engine) || (engine.type !== 'rules' && engine.type !== 'llm')) {
    issues.push({ path: 'engine.type', message: 'must be rules or llm' });
  }
  const { definitionVersion } = data;
  if (!Number.isSafeInteger(definitionVersion) || definitionVersion < 1 || definitionVersion > agent.version) {
    issues.push({ path: 'definitionVersion', message: `must be a version of this agent (1 to ${agent.version})` });
  }
  const usageValid =
    isRecord(usage) && isCount(usage.inputTokens) && isCount(usage.outputTokens) && isCount(usage.totalTokens) && isAmount(usage.costUsd);
  if (!usageValid) issues.push({ path: 'usage', message: 'token counts must be non-negative integers and costUsd a non-negative amount' });
  if (!isAmount(data.latencyMs)) issues.push({ path: 'latencyMs', message: 'must be a non-negative number' });
  if (!Array.isArray(data.actions)) issues.push({ path: 'actions', message: 'must be an array' });
  const actions = (Array.isArray(data.actions) ? data.actions : [])
    .map((action: unknown, index) => validateAgentAction(action, `actions[${index}]`, issues))
    .filter((action): action is AgentAction => action !== null);
  if (issues.length > 0) throw validationFailed(issues);
  return actions;
}

function recordDecision(command: RecordDecision, state: AgentState, context: CommandContext): AgentEvent[] {
  const data = command.data;
  const agent = existing(state, data.agentId);
  if (!isNonBlank(data.decisionId)) throw validationFailed([{ path: 'decisionId', message: 'is required' }]);
  // A retry of a decision already recorded changes nothing, whatever happened to the agent since.
  if (hasDecision(agent, data.decisionId)) return [];
  if (agent.status === 'retired') throw agentRetired(agent.id);
  if (agent.status === 'paused') throw conflict('AGENT_PAUSED', `Agent ${agent.id} is paused`, { agentId: agent.id });
  const actions = validateDecision(data, agent);
  // Checked against the definition in force now: an action whose tool was withdrawn never runs.
  const forbidden = actions.findIndex((action) => !agent.definition.tools.includes(toolForAction(action)));
  if (forbidden >= 0) {
    throw unprocessable('TOOL_NOT_ALLOWED', `Action ${forbidden} (${actions[forbidden].action}) is not one of agent ${agent.id}'s tools`, {
      agentId: agent.id,
      index: forbidden,
      action: actions[forbidden].action,
      tools: agent.definition.tools,
    });
  }
  const indexed: IndexedAgentAction[] = actions.map((action, index) => ({ index, action }));
  return [
    {
      type: 'agent.decision-recorded',
      data: {
        agentId: agent.id,
        decisionId: data.decisionId,
        input: inputOf(data.input),
        engine: engineOf(data.engine),
        definitionVersion: data.definitionVersion,
        output: data.output,
        actions: indexed,
        usage: usageOf(data.usage),
        latencyMs: data.latencyMs,
        correlationId: context.correlationId,
        ...placementOf(data),
      },
    },
  ];
}

/* Events carry only the known fields of what a command passed in. */
const inputOf = (input: DecisionInput): DecisionInput => ({ kind: input.kind, ref: input.ref, payload: input.payload });
const engineOf = (engine: DecisionEngine): DecisionEngine => ({ type: engine.type, ...optional('provider', engine.provider), ...optional('model', engine.model) });
const usageOf = (usage: DecisionUsage): DecisionUsage => ({
  inputTokens: usage.inputTokens,
  outputTokens: usage.outputTokens,
  totalTokens: usage.totalTokens,
  costUsd: usage.costUsd,
});

function placementOf(data: DecisionPlacement): DecisionPlacement {
  return {
    ...optional('mailboxRevision', data.mailboxRevision),
    ...(data.coalesced !== undefined && data.coalesced.length > 0 && {
      coalesced: data.coalesced.map(inputOf),
    }),
    ...optional('hop', data.hop),
  };
}

function recordDecisionFailure(command: RecordDecisionFailure, state: AgentState, context: CommandContext): AgentEvent[] {
  const data = command.data;
  const agent = existing(state, data.agentId);
  if (!isNonBlank(data.decisionId)) throw validationFailed([{ path: 'decisionId', message: 'is required' }]);
  if (hasDecision(agent, data.decisionId)) return [];
  if (!isRecord(data.error) || !isNonBlank(data.error.message)) throw validationFailed([{ path: 'error.message', message: 'is required' }]);
  return [
    {
      type: 'agent.decision-failed',
      data: {
        agentId: agent.id,
        decisionId: data.decisionId,
        input: inputOf(data.input),
        engine: engineOf(data.engine),
        definitionVersion: data.definitionVersion,
        error: { message: data.error.message, ...optional('code', data.error.code) },
        ...optional('output', data.output),
        usage: usageOf(data.usage),
        latencyMs: data.latencyMs,
        correlationId: context.correlationId,
        ...placementOf(data),
      },
    },
  ];
}

function recordDecisionCancellation(command: RecordDecisionCancellation, state: AgentState): AgentEvent[] {
  const data = command.data;
  // A record, not an idempotency key: cancelled decisions had no effect, and the inputs they
  // covered are decided again (with the next one), so the state does not change.
  const agent = existing(state, data.agentId);
  return [
    {
      type: 'agent.decision-cancelled',
      data: {
        agentId: agent.id,
        decisionId: data.decisionId,
        input: inputOf(data.input),
        reason: data.reason,
        ...optional('interruptedBy', data.interruptedBy),
        latencyMs: data.latencyMs,
      },
    },
  ];
}

/** A send-message action succeeds with the message as sent; it is written in the same append. */
function messageSentFor(agent: DefinedAgentState, decisionId: string, index: number, result: unknown): AgentEvent {
  if (!isRecord(result) || !isNonBlank(result.messageId) || !isNonBlank(result.to) || typeof result.content !== 'string') {
    throw validationFailed([{ path: 'outcome.result', message: 'a send-message action succeeds with { messageId, to, content }' }]);
  }
  return {
    type: 'agent.message-sent',
    data: {
      agentId: agent.id,
      messageId: result.messageId,
      to: result.to,
      content: result.content,
      decisionId,
      index,
      ...(isNonBlank(result.inReplyTo) && { inReplyTo: result.inReplyTo }),
      ...(isNonBlank(result.replyDueAt) && { replyDueAt: result.replyDueAt }),
    },
  };
}

function openAction(agent: DefinedAgentState, decisionId: string, index: number): OpenDecision {
  const key = { agentId: agent.id, decisionId, index };
  const decision = openDecision(agent, decisionId);
  if (decision === undefined) {
    if (agent.recentDecisionIds.includes(decisionId)) {
      throw conflict('ACTION_ALREADY_EXECUTED', `Action ${index} of decision ${decisionId} is already recorded`, key);
    }
    throw notFound('DECISION_NOT_FOUND', `Decision ${decisionId} has no action awaiting a result`, key);
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= decision.actions.length) {
    throw notFound('ACTION_NOT_FOUND', `Decision ${decisionId} has no action ${index}`, key);
  }
  if (decision.settled.includes(index)) {
    throw conflict('ACTION_ALREADY_EXECUTED', `Action ${index} of decision ${decisionId} is already recorded`, key);
  }
  return decision;
}

function recordActionResult(command: RecordActionResult, state: AgentState): AgentEvent[] {
  const { decisionId, index, outcome } = command.data;
  // Allowed whatever the status: an action that ran before a pause or retirement still happened.
  const agent = existing(state, command.data.agentId);
  const action = openAction(agent, decisionId, index).actions[index];
  const base = { agentId: agent.id, decisionId, index, action };
  if (isRecord(outcome) && outcome.status === 'failed') {
    const error: unknown = outcome.error;
    if (!isRecord(error) || !isNonBlank(error.message)) {
      throw validationFailed([{ path: 'outcome.error.message', message: 'is required' }]);
    }
    const code = isNonBlank(error.code) ? { code: error.code } : {};
    return [{ type: 'agent.action-failed', data: { ...base, error: { message: error.message, ...code } } }];
  }
  if (!isRecord(outcome) || outcome.status !== 'succeeded') {
    throw validationFailed([{ path: 'outcome.status', message: 'must be succeeded or failed' }]);
  }
  const executed: AgentEvent = { type: 'agent.action-executed', data: { ...base, ...optional('result', outcome.result) } };
  // A proposal that was approved carries the outcome of the action it wrapped: its effects are
  // recorded like the direct action's; a rejected proposal has none.
  const result: unknown = outcome.result;
  const effect =
    action === 'propose'
      ? isRecord(result) && result.approval === 'approve' && isNonBlank(result.proposed)
        ? { name: result.proposed, result: result.result }
        : null
      : { name: action, result };
  if (effect === null) return [executed];
  // Messages (sent, or a reply to another agent) are facts of their own, in the same append.
  if (effect.name === 'send-message') return [executed, messageSentFor(agent, decisionId, index, effect.result)];
  if (effect.name === 'reply' && isRecord(effect.result) && isRecord(effect.result.message)) {
    return [executed, messageSentFor(agent, decisionId, index, effect.result.message)];
  }
  if (effect.name !== 'remember') return [executed];
  // The rendered key and value of a `remember` action update the memory in the same append.
  const remembered: unknown = effect.result;
  if (!isRecord(remembered) || !isNonBlank(remembered.key) || remembered.value === undefined) {
    throw validationFailed([{ path: 'outcome.result', message: 'a remember action succeeds with { key, value }' }]);
  }
  return [executed, { type: 'agent.memory-updated', data: { agentId: agent.id, key: remembered.key, value: remembered.value, decisionId, index } }];
}

function receiveMessage(command: ReceiveMessage, state: AgentState, context: CommandContext): AgentEvent[] {
  const { from, content } = command.data;
  const agent = existing(state, command.data.agentId);
  const messageId = command.data.messageId ?? context.newId();
  // Mailbox delivery is at least once: a message already received is not received again.
  if (agent.recentMessageIds.includes(messageId)) return [];
  // A paused agent still receives: its mailbox keeps the message until it resumes.
  if (agent.status === 'retired') throw agentRetired(agent.id);
  const issues: ValidationIssue[] = [];
  if (!isNonBlank(messageId)) issues.push({ path: 'messageId', message: 'must be a non-empty string' });
  if (!isRecord(from) || !(MESSAGE_SENDER_KINDS as readonly unknown[]).includes(from.kind) || !isNonBlank(from.id)) {
    issues.push({ path: 'from', message: `must be { kind: ${MESSAGE_SENDER_KINDS.join(' | ')}, id }` });
  }
  if (typeof content !== 'string' || content.trim().length === 0 || content.length > MAX_AGENT_MESSAGE_LENGTH) {
    issues.push({ path: 'content', message: `must be 1–${MAX_AGENT_MESSAGE_LENGTH} characters` });
  }
  if (issues.length > 0) throw validationFailed(issues);
  return [{ type: 'agent.message-received', data: { agentId: agent.id, messageId, from: { kind: from.kind, id: from.id }, content } }];
}

function decide(command: AgentCommand, state: AgentState, context: CommandContext): AgentEvent[] {
  switch (command.type) {
    case 'DefineAgent':
      return define(command, state);
    case 'ReconfigureAgent':
      return reconfigure(command, state);
    case 'PauseAgent': {
      const agent = living(state, command.data.agentId);
      if (agent.status === 'paused') throw conflict('AGENT_ALREADY_PAUSED', `Agent ${agent.id} is already paused`, { agentId: agent.id });
      return [{ type: 'agent.paused', data: { agentId: agent.id, version: agent.version, ...optional('reason', command.data.reason) } }];
    }
    case 'ResumeAgent': {
      const agent = living(state, command.data.agentId);
      if (agent.status !== 'paused') throw conflict('AGENT_NOT_PAUSED', `Agent ${agent.id} is not paused`, { agentId: agent.id });
      return [{ type: 'agent.resumed', data: { agentId: agent.id, version: agent.version, ...(command.data.replayMissed === true && { replayMissed: true as const }) } }];
    }
    case 'RetireAgent': {
      const agent = living(state, command.data.agentId);
      return [{ type: 'agent.retired', data: { agentId: agent.id, version: agent.version, ...optional('reason', command.data.reason) } }];
    }
    case 'RecordDecision':
      return recordDecision(command, state, context);
    case 'RecordDecisionFailure':
      return recordDecisionFailure(command, state, context);
    case 'RecordDecisionCancellation':
      return recordDecisionCancellation(command, state);
    case 'RecordActionResult':
      return recordActionResult(command, state);
    case 'ReceiveMessage':
      return receiveMessage(command, state, context);
    default:
      return assertNever(command);
  }
}

function settle(agent: DefinedAgentState, decisionId: string, index: number): DefinedAgentState {
  const decision = openDecision(agent, decisionId);
  if (decision === undefined) return agent;
  const settled = [...decision.settled, index];
  const { [decisionId]: _done, ...others } = agent.openDecisions;
  const openDecisions = settled.length >= decision.actions.length ? others : { ...others, [decisionId]: { ...decision, settled } };
  return { ...agent, openDecisions };
}

function evolve(state: AgentState, event: AgentEvent): AgentState {
  if (event.type === 'agent.defined') {
    return {
      id: event.data.agentId,
      status: 'active',
      definition: event.data.definition,
      version: event.data.version,
      decisionCount: 0,
      messageCount: 0,
      openDecisions: {},
      recentDecisionIds: [],
      recentMessageIds: [],
      mailboxRevision: -1,
      memory: {},
    };
  }
  // Nothing but a definition can start an agent's history.
  if (state === null) return state;
  switch (event.type) {
    case 'agent.reconfigured':
      return { ...state, definition: event.data.definition, version: event.data.version };
    case 'agent.paused':
      return { ...state, status: 'paused' };
    case 'agent.resumed':
      return { ...state, status: 'active' };
    case 'agent.retired':
      return { ...state, status: 'retired' };
    case 'agent.decision-recorded': {
      const { decisionId, actions } = event.data;
      const opened = actions.length === 0 ? {} : { [decisionId]: { actions: actions.map(({ action }) => action.action), settled: [] } };
      return {
        ...state,
        decisionCount: state.decisionCount + 1,
        recentDecisionIds: appendToWindow(state.recentDecisionIds, decisionId),
        openDecisions: { ...state.openDecisions, ...opened },
        mailboxRevision: Math.max(state.mailboxRevision, event.data.mailboxRevision ?? -1),
      };
    }
    case 'agent.decision-failed':
      return {
        ...state,
        recentDecisionIds: appendToWindow(state.recentDecisionIds, event.data.decisionId),
        mailboxRevision: Math.max(state.mailboxRevision, event.data.mailboxRevision ?? -1),
      };
    case 'agent.decision-cancelled':
    case 'agent.message-sent':
      return state;
    case 'agent.action-executed':
    case 'agent.action-failed':
      return settle(state, event.data.decisionId, event.data.index);
    case 'agent.message-received':
      return {
        ...state,
        messageCount: state.messageCount + 1,
        recentMessageIds: appendToWindow(state.recentMessageIds, event.data.messageId),
      };
    case 'agent.memory-updated':
      return { ...state, memory: { ...state.memory, [event.data.key]: event.data.value } };
    default:
      return assertNever(event);
  }
}

export const agentDecider: Decider<AgentState, AgentCommand, AgentEvent> = {
  decide,
  evolve,
  initialState: initialAgentState,
};
