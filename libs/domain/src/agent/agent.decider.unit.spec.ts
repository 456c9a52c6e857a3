import { DeciderSpecification } from '../shared/decider-specification';
import { fold } from '../shared/decider';
import type { AgentCommand, DecisionInput, RecordActionResult, RecordDecision, RecordDecisionFailure } from './agent.commands';
import { agentDecider } from './agent.decider';
import type { AgentAction, AgentDefinition, AgentDefinitionInput } from './agent.definition';
import { AGENT_EVENT_TYPES, type AgentEvent, type AgentEventType } from './agent.events';
import { AGENT_RECENT_ID_WINDOW } from './agent.state';

const spec = DeciderSpecification.for(agentDecider);
const agentId = 'agent-1';

const input: AgentDefinitionInput = {
  name: 'order-watcher',
  kind: 'analyst',
  subscriptions: [{ type: 'order.*', filter: { '>': [{ var: 'data.total' }, 100] } }],
  engine: {
    type: 'rules',
    rules: [{ name: 'big-order', when: { '==': [{ var: 'type' }, 'order.placed'] }, then: [{ action: 'reply', text: 'Order {{subject}}' }] }],
  },
  tools: ['reply', 'remember', 'propose'],
};

const definition: AgentDefinition = {
  name: 'order-watcher',
  kind: 'analyst',
  subscriptions: [{ type: 'order.*', filter: { '>': [{ var: 'data.total' }, 100] } }],
  engine: input.engine,
  tools: ['reply', 'remember', 'propose'],
  budgets: { maxHops: 8, maxDecisionsPerChain: 20, maxTokensPerChain: 20_000 },
  mailboxPolicy: 'queue',
};

const defined: AgentEvent = { type: 'agent.defined', data: { agentId, definition, version: 1 } };
const paused: AgentEvent = { type: 'agent.paused', data: { agentId, version: 1 } };
const resumed: AgentEvent = { type: 'agent.resumed', data: { agentId, version: 1 } };
const retired: AgentEvent = { type: 'agent.retired', data: { agentId, version: 1 } };

const decisionData = (overrides: Partial<RecordDecision['data']> = {}): RecordDecision['data'] => ({
  agentId,
  decisionId: 'decision-1',
  input: { kind: 'event', ref: 'event-1', payload: { subject: 'order-7' } },
  engine: { type: 'rules' },
  definitionVersion: 1,
  output: { matchedRules: ['big-order'] },
  actions: [
    { action: 'reply', text: 'Order order-7' },
    { action: 'remember', key: 'last-order', value: '{{subject}}' },
  ],
  usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 },
  latencyMs: 3,
  ...overrides,
});
const recordDecision = (overrides: Partial<RecordDecision['data']> = {}): AgentCommand => ({ type: 'RecordDecision', data: decisionData(overrides) });

const decisionRecorded = (decisionId = 'decision-1'): AgentEvent => {
  const data = decisionData({ decisionId });
  return {
    type: 'agent.decision-recorded',
    data: {
      agentId,
      decisionId,
      input: data.input,
      engine: data.engine,
      definitionVersion: 1,
      output: data.output,
      actions: data.actions.map((action, index) => ({ index, action })),
      usage: data.usage,
      latencyMs: 3,
      correlationId: 'correlation-1',
    },
  };
};
const replyExecuted: AgentEvent = {
  type: 'agent.action-executed',
  data: { agentId, decisionId: 'decision-1', index: 0, action: 'reply', result: { messageId: 'm-1' } },
};

describe('agent decider', () => {
  it('lists every event type it defines', () => {
    const complete: [Exclude<AgentEventType, (typeof AGENT_EVENT_TYPES)[number]>] extends [never] ? true : false = true;
    expect(complete).toBe(true);
    expect(new Set(AGENT_EVENT_TYPES).size).toBe(AGENT_EVENT_TYPES.length);
  });

  describe('DefineAgent', () => {
    it('defines an agent at version 1 with default budgets and mailbox policy', () => {
      spec.given([]).when({ type: 'DefineAgent', data: { agentId, definition: input } }).then([defined]);
    });

    it('keeps the budgets and policy it is given, filling only the missing limits', () => {
      const custom = { ...input, budgets: { maxHops: 3, maxCostPerChain: 0.25 }, mailboxPolicy: 'coalesce' as const };
      spec
        .given([])
        .when({ type: 'DefineAgent', data: { agentId, definition: custom } })
        .then([
          {
            type: 'agent.defined',
            data: {
              agentId,
              definition: { ...definition, budgets: { maxHops: 3, maxDecisionsPerChain: 20, maxTokensPerChain: 20_000, maxCostPerChain: 0.25 }, mailboxPolicy: 'coalesce' },
              version: 1,
            },
          },
        ]);
    });

    it('accepts an llm engine', () => {
      const llm = { type: 'llm' as const, provider: 'ollama' as const, model: 'llama3', baseUrl: 'http://127.0.0.1:11434', temperature: 0 };
      spec
        .given([])
        .when({ type: 'DefineAgent', data: { agentId, definition: { ...input, engine: llm, instructions: 'Watch orders.' } } })
        .then([{ type: 'agent.defined', data: { agentId, definition: { ...definition, engine: llm, instructions: 'Watch orders.' }, version: 1 } }]);
    });

    it('rejects defining an agent twice', () => {
      spec.given([defined]).when({ type: 'DefineAgent', data: { agentId, definition: input } }).thenThrows('AGENT_ALREADY_EXISTS', 'conflict');
    });

    it('rejects defining over a retired agent', () => {
      spec.given([defined, retired]).when({ type: 'DefineAgent', data: { agentId, definition: input } }).thenThrows('AGENT_ALREADY_EXISTS', 'conflict');
    });

    it('rejects a missing agent id', () => {
      spec.given([]).when({ type: 'DefineAgent', data: { agentId: ' ', definition: input } }).thenThrows('VALIDATION_FAILED', 'validation');
    });

    it('rejects a rules engine without rules', () => {
      const error = spec
        .given([])
        .when({ type: 'DefineAgent', data: { agentId, definition: { ...input, engine: { type: 'rules', rules: [] } } } })
        .thenThrows('VALIDATION_FAILED', 'validation');
      expect(error.details).toEqual({ errors: [{ path: 'engine.rules', message: 'a rules engine needs at least one rule' }] });
    });

    it('rejects a rule action whose tool the agent does not hold', () => {
      const engine = { type: 'rules' as const, rules: [{ then: [{ action: 'call-webhook' as const, url: 'https://example.com/hook' }] }] };
      const error = spec
        .given([])
        .when({ type: 'DefineAgent', data: { agentId, definition: { ...input, engine } } })
        .thenThrows('VALIDATION_FAILED', 'validation');
      expect(error.message).toContain('engine.rules[0].then[0].action: "call-webhook" is not one of the agent\'s tools');
    });

    it('lets a proposal wrap an action whose tool the agent does not hold', () => {
      const engine = {
        type: 'rules' as const,
        rules: [{ then: [{ action: 'propose' as const, proposed: { action: 'call-webhook' as const, url: '{{env.refundUrl}}' }, reason: 'refund' }] }],
      };
      spec
        .given([])
        .when({ type: 'DefineAgent', data: { agentId, definition: { ...input, engine } } })
        .then([{ type: 'agent.defined', data: { agentId, definition: { ...definition, engine }, version: 1 } }]);
    });
  });

  describe('ReconfigureAgent', () => {
    it('makes a new definition version with the whole new definition and what changed', () => {
      spec
        .given([defined])
        .when({ type: 'ReconfigureAgent', data: { agentId, changes: { description: 'Watches orders', budgets: { maxHops: 4 } } } })
        .then([
          {
            type: 'agent.reconfigured',
            data: {
              agentId,
              definition: { ...definition, description: 'Watches orders', budgets: { ...definition.budgets, maxHops: 4 } },
              version: 2,
              changed: ['description', 'budgets'],
            },
          },
        ]);
    });

    it('counts versions across reconfigurations', () => {
      const v2: AgentEvent = { type: 'agent.reconfigured', data: { agentId, definition: { ...definition, kind: 'monitor' }, version: 2, changed: ['kind'] } };
      spec
        .given([defined, v2])
        .when({ type: 'ReconfigureAgent', data: { agentId, changes: { mailboxPolicy: 'interrupt' } } })
        .then([
          {
            type: 'agent.reconfigured',
            data: { agentId, definition: { ...definition, kind: 'monitor', mailboxPolicy: 'interrupt' }, version: 3, changed: ['mailboxPolicy'] },
          },
        ]);
    });

    it('clears optional fields given as null', () => {
      const withExtras: AgentEvent = {
        type: 'agent.defined',
        data: { agentId, definition: { ...definition, description: 'old', budgets: { ...definition.budgets, maxCostPerChain: 1 } }, version: 1 },
      };
      spec
        .given([withExtras])
        .when({ type: 'ReconfigureAgent', data: { agentId, changes: { description: null, budgets: { maxCostPerChain: null } } } })
        .then([{ type: 'agent.reconfigured', data: { agentId, definition, version: 2, changed: ['description', 'budgets'] } }]);
    });

    it('is a no-op when nothing changes', () => {
      spec.given([defined]).when({ type: 'ReconfigureAgent', data: { agentId, changes: { kind: 'analyst' } } }).thenNothingHappens();
    });

    it('reconfigures a paused agent', () => {
      spec
        .given([defined, paused])
        .when({ type: 'ReconfigureAgent', data: { agentId, changes: { kind: 'monitor' } } })
        .then([{ type: 'agent.reconfigured', data: { agentId, definition: { ...definition, kind: 'monitor' }, version: 2, changed: ['kind'] } }]);
    });

    it('validates the resulting definition as a whole', () => {
      const error = spec
        .given([defined])
        .when({ type: 'ReconfigureAgent', data: { agentId, changes: { tools: ['remember'] } } })
        .thenThrows('VALIDATION_FAILED', 'validation');
      expect(error.message).toContain('engine.rules[0].then[0].action');
    });

    it('rejects an unknown agent', () => {
      spec.given([]).when({ type: 'ReconfigureAgent', data: { agentId, changes: { kind: 'monitor' } } }).thenThrows('AGENT_NOT_FOUND', 'not-found');
    });

    it('rejects a retired agent', () => {
      spec.given([defined, retired]).when({ type: 'ReconfigureAgent', data: { agentId, changes: { kind: 'monitor' } } }).thenThrows('AGENT_RETIRED', 'gone');
    });
  });

  describe('PauseAgent', () => {
    it('pauses an active agent', () => {
      spec.given([defined]).when({ type: 'PauseAgent', data: { agentId, reason: 'maintenance' } }).then([
        { type: 'agent.paused', data: { agentId, version: 1, reason: 'maintenance' } },
      ]);
    });

    it('pauses an agent resumed before', () => {
      spec.given([defined, paused, resumed]).when({ type: 'PauseAgent', data: { agentId } }).then([paused]);
    });

    it('rejects pausing a paused agent', () => {
      spec.given([defined, paused]).when({ type: 'PauseAgent', data: { agentId } }).thenThrows('AGENT_ALREADY_PAUSED', 'conflict');
    });

    it('rejects pausing a retired agent', () => {
      spec.given([defined, retired]).when({ type: 'PauseAgent', data: { agentId } }).thenThrows('AGENT_RETIRED', 'gone');
    });

    it('rejects an unknown agent', () => {
      spec.given([]).when({ type: 'PauseAgent', data: { agentId } }).thenThrows('AGENT_NOT_FOUND', 'not-found');
    });
  });

  describe('ResumeAgent', () => {
    it('resumes a paused agent', () => {
      spec.given([defined, paused]).when({ type: 'ResumeAgent', data: { agentId } }).then([resumed]);
    });

    it('rejects resuming an active agent', () => {
      spec.given([defined]).when({ type: 'ResumeAgent', data: { agentId } }).thenThrows('AGENT_NOT_PAUSED', 'conflict');
    });

    it('rejects resuming a retired agent', () => {
      spec.given([defined, paused, retired]).when({ type: 'ResumeAgent', data: { agentId } }).thenThrows('AGENT_RETIRED', 'gone');
    });

    it('rejects an unknown agent', () => {
      spec.given([]).when({ type: 'ResumeAgent', data: { agentId } }).thenThrows('AGENT_NOT_FOUND', 'not-found');
    });
  });

  describe('RetireAgent', () => {
    it('retires an active or paused agent', () => {
      spec.given([defined]).when({ type: 'RetireAgent', data: { agentId } }).then([retired]);
      spec.given([defined, paused]).when({ type: 'RetireAgent', data: { agentId, reason: 'replaced' } }).then([
        { type: 'agent.retired', data: { agentId, version: 1, reason: 'replaced' } },
      ]);
    });

    it('rejects retiring twice', () => {
      spec.given([defined, retired]).when({ type: 'RetireAgent', data: { agentId } }).thenThrows('AGENT_RETIRED', 'gone');
    });

    it('rejects an unknown agent', () => {
      spec.given([]).when({ type: 'RetireAgent', data: { agentId } }).thenThrows('AGENT_NOT_FOUND', 'not-found');
    });
  });

  describe('RecordDecision', () => {
    it('records the decision with indexed actions and the chain it belongs to', () => {
      spec.given([defined]).when(recordDecision()).then([decisionRecorded()]);
    });

    it('takes the correlation id from the command context', () => {
      const expected = decisionRecorded();
      spec
        .given([defined])
        .when(recordDecision(), { correlationId: 'chain-9' })
        .then([{ ...expected, data: { ...expected.data, correlationId: 'chain-9' } } as AgentEvent]);
    });

    it('is a no-op for a decision already recorded', () => {
      spec.given([defined, decisionRecorded()]).when(recordDecision()).thenNothingHappens();
      spec.given([defined, decisionRecorded(), replyExecuted, paused]).when(recordDecision()).thenNothingHappens();
    });

    it('rejects a decision for a paused agent', () => {
      spec.given([defined, paused]).when(recordDecision()).thenThrows('AGENT_PAUSED', 'conflict');
    });

    it('rejects a decision for a retired agent', () => {
      spec.given([defined, retired]).when(recordDecision()).thenThrows('AGENT_RETIRED', 'gone');
    });

    it('rejects an unknown agent', () => {
      spec.given([]).when(recordDecision()).thenThrows('AGENT_NOT_FOUND', 'not-found');
    });

    it('rejects an action outside the agent tools', () => {
      const error = spec
        .given([defined])
        .when(recordDecision({ actions: [{ action: 'reply', text: 'ok' }, { action: 'send-message', to: 'agent-2', content: 'hi' }] }))
        .thenThrows('TOOL_NOT_ALLOWED', 'unprocessable');
      expect(error.details).toMatchObject({ index: 1, action: 'send-message' });
    });

    it('rejects a definition version the agent never had', () => {
      spec.given([defined]).when(recordDecision({ definitionVersion: 2 })).thenThrows('VALIDATION_FAILED', 'validation');
    });

    it('rejects malformed input, usage, latency and actions, naming each field', () => {
      const error = spec
        .given([defined])
        .when(
          recordDecision({
            input: { kind: 'email' as never, ref: 'x', payload: null },
            usage: { inputTokens: -1, outputTokens: 0, totalTokens: 0, costUsd: 0 },
            latencyMs: Number.NaN,
            actions: [{ action: 'reply', text: '' }],
          }),
        )
        .thenThrows('VALIDATION_FAILED');
      expect(error.details?.errors).toEqual([
        expect.objectContaining({ path: 'input' }),
        expect.objectContaining({ path: 'usage' }),
        expect.objectContaining({ path: 'latencyMs' }),
        expect.objectContaining({ path: 'actions[0].text' }),
      ]);
    });

    it('rejects a missing decision id', () => {
      spec.given([defined]).when(recordDecision({ decisionId: '' })).thenThrows('VALIDATION_FAILED', 'validation');
    });
  });

  describe('RecordActionResult', () => {
    const result = (index: number, outcome: Extract<AgentCommand, { type: 'RecordActionResult' }>['data']['outcome'], decisionId = 'decision-1'): AgentCommand => ({
      type: 'RecordActionResult',
      data: { agentId, decisionId, index, outcome },
    });

    it('records an executed action', () => {
      spec.given([defined, decisionRecorded()]).when(result(0, { status: 'succeeded', result: { messageId: 'm-1' } })).then([replyExecuted]);
    });

    it('records a failed action', () => {
      spec
        .given([defined, decisionRecorded()])
        .when(result(0, { status: 'failed', error: { message: 'conversation closed', code: 'CONVERSATION_CLOSED' } }))
        .then([
          {
            type: 'agent.action-failed',
            data: { agentId, decisionId: 'decision-1', index: 0, action: 'reply', error: { message: 'conversation closed', code: 'CONVERSATION_CLOSED' } },
          },
        ]);
    });

    it('updates the memory when a remember action succeeds', () => {
      spec
        .given([defined, decisionRecorded()])
        .when(result(1, { status: 'succeeded', result: { key: 'last-order', value: 'order-7' } }))
        .then([
          { type: 'agent.action-executed', data: { agentId, decisionId: 'decision-1', index: 1, action: 'remember', result: { key: 'last-order', value: 'order-7' } } },
          { type: 'agent.memory-updated', data: { agentId, key: 'last-order', value: 'order-7', decisionId: 'decision-1', index: 1 } },
        ]);
    });

    it('rejects a remember result without key and value', () => {
      spec.given([defined, decisionRecorded()]).when(result(1, { status: 'succeeded' })).thenThrows('VALIDATION_FAILED', 'validation');
    });

    it('rejects a failure without an error message', () => {
      spec.given([defined, decisionRecorded()]).when(result(0, { status: 'failed', error: { message: '' } })).thenThrows('VALIDATION_FAILED');
    });

    it('rejects an unknown outcome status', () => {
      spec.given([defined, decisionRecorded()]).when(result(0, { status: 'skipped' } as never)).thenThrows('VALIDATION_FAILED');
    });

    it('records results for a paused or retired agent: the action already happened', () => {
      spec.given([defined, decisionRecorded(), paused]).when(result(0, { status: 'succeeded', result: { messageId: 'm-1' } })).then([replyExecuted]);
      spec.given([defined, decisionRecorded(), retired]).when(result(0, { status: 'succeeded', result: { messageId: 'm-1' } })).then([replyExecuted]);
    });

    it('rejects recording the same (decisionId, index) twice', () => {
      spec.given([defined, decisionRecorded(), replyExecuted]).when(result(0, { status: 'succeeded' })).thenThrows('ACTION_ALREADY_EXECUTED', 'conflict');
    });

    it('rejects recording an action again once its decision has fully settled', () => {
      const memoryWritten: AgentEvent[] = [
        { type: 'agent.action-executed', data: { agentId, decisionId: 'decision-1', index: 1, action: 'remember', result: { key: 'k', value: 1 } } },
        { type: 'agent.memory-updated', data: { agentId, key: 'k', value: 1, decisionId: 'decision-1', index: 1 } },
      ];
      spec
        .given([defined, decisionRecorded(), replyExecuted, ...memoryWritten])
        .when(result(0, { status: 'failed', error: { message: 'late' } }))
        .thenThrows('ACTION_ALREADY_EXECUTED', 'conflict');
    });

    it('rejects an index the decision does not have', () => {
      spec.given([defined, decisionRecorded()]).when(result(2, { status: 'succeeded' })).thenThrows('ACTION_NOT_FOUND', 'not-found');
      spec.given([defined, decisionRecorded()]).when(result(-1, { status: 'succeeded' })).thenThrows('ACTION_NOT_FOUND', 'not-found');
    });

    it('rejects an unknown decision, even one named like an object property', () => {
      spec.given([defined]).when(result(0, { status: 'succeeded' })).thenThrows('DECISION_NOT_FOUND', 'not-found');
      spec.given([defined]).when(result(0, { status: 'succeeded' }, 'constructor')).thenThrows('DECISION_NOT_FOUND', 'not-found');
    });

    it('rejects an unknown agent', () => {
      spec.given([]).when(result(0, { status: 'succeeded' })).thenThrows('AGENT_NOT_FOUND', 'not-found');
    });
  });

  describe('RecordDecision placement', () => {
    const earlier: DecisionInput = { kind: 'message', ref: 'message-1', payload: { content: 'one' } };

    it('records where the decision sits: the mailbox revision it covers, the inputs coalesced into it, and its hop', () => {
      const expected = decisionRecorded();
      spec
        .given([defined])
        .when(recordDecision({ mailboxRevision: 4, coalesced: [earlier], hop: 2 }))
        .then([{ ...expected, data: { ...expected.data, mailboxRevision: 4, coalesced: [earlier], hop: 2 } } as AgentEvent]);
    });

    it('leaves out an empty list of coalesced inputs', () => {
      const expected = decisionRecorded();
      spec
        .given([defined])
        .when(recordDecision({ mailboxRevision: 0, coalesced: [], hop: 1 }))
        .then([{ ...expected, data: { ...expected.data, mailboxRevision: 0, hop: 1 } } as AgentEvent]);
    });
  });

  describe('RecordDecisionFailure', () => {
    const failureData = (overrides: Partial<RecordDecisionFailure['data']> = {}): RecordDecisionFailure['data'] => ({
      agentId,
      decisionId: 'decision-1',
      input: { kind: 'message', ref: 'message-2', payload: { content: 'two' } },
      engine: { type: 'llm', provider: 'fake', model: 'scripted' },
      definitionVersion: 1,
      error: { code: 'CHAIN_BUDGET_EXCEEDED', message: 'Chain budget exceeded: max-tokens (limit 1000, would be 1200)' },
      output: { text: 'what the model said' },
      usage: { inputTokens: 500, outputTokens: 100, totalTokens: 600, costUsd: 0.01 },
      latencyMs: 12,
      mailboxRevision: 3,
      hop: 2,
      ...overrides,
    });
    const failDecision = (overrides: Partial<RecordDecisionFailure['data']> = {}): AgentCommand => ({ type: 'RecordDecisionFailure', data: failureData(overrides) });
    const { agentId: _agentId, ...failedData } = failureData();
    const decisionFailed: AgentEvent = { type: 'agent.decision-failed', data: { agentId, ...failedData, correlationId: 'correlation-1' } };

    it('records the failure with what the engine produced, its usage and its place in the mailbox and the chain', () => {
      spec.given([defined]).when(failDecision()).then([decisionFailed]);
    });

    it('is a no-op for a decision id already failed: a retried failure is recorded once', () => {
      spec.given([defined, decisionFailed]).when(failDecision()).thenNothingHappens();
      spec.given([defined, decisionFailed]).when(failDecision({ error: { message: 'another reason' } })).thenNothingHappens();
    });

    it('is a no-op for a decision id already recorded as decided, and the other way round', () => {
      spec.given([defined, decisionRecorded()]).when(failDecision()).thenNothingHappens();
      spec.given([defined, decisionFailed]).when(recordDecision()).thenNothingHappens();
    });

    it('rejects a failure without an error message or a decision id', () => {
      spec.given([defined]).when(failDecision({ error: { message: ' ' } })).thenThrows('VALIDATION_FAILED', 'validation');
      spec.given([defined]).when(failDecision({ decisionId: '' })).thenThrows('VALIDATION_FAILED', 'validation');
    });

    it('rejects an unknown agent', () => {
      spec.given([]).when(failDecision()).thenThrows('AGENT_NOT_FOUND', 'not-found');
    });

    it('moves the mailbox revision on: the failed input counts as processed', () => {
      expect(fold(agentDecider, [defined, decisionFailed])?.mailboxRevision).toBe(3);
    });
  });

  describe('RecordDecisionCancellation', () => {
    const cancel: AgentCommand = {
      type: 'RecordDecisionCancellation',
      data: { agentId, decisionId: 'decision-1', input: { kind: 'message', ref: 'message-1', payload: {} }, reason: 'interrupted by a newer input', interruptedBy: 'entry-2', latencyMs: 40 },
    };
    const cancelled: AgentEvent = {
      type: 'agent.decision-cancelled',
      data: { agentId, decisionId: 'decision-1', input: { kind: 'message', ref: 'message-1', payload: {} }, reason: 'interrupted by a newer input', interruptedBy: 'entry-2', latencyMs: 40 },
    };

    it('records the cancelled decision and what interrupted it', () => {
      spec.given([defined]).when(cancel).then([cancelled]);
    });

    it('changes nothing in the state: the inputs it covered are still to be decided, under any id', () => {
      const before = fold(agentDecider, [defined]);
      expect(fold(agentDecider, [defined, cancelled])).toEqual(before);
      spec.given([defined, cancelled]).when(recordDecision()).then([decisionRecorded()]);
    });

    it('rejects an unknown agent', () => {
      spec.given([]).when(cancel).thenThrows('AGENT_NOT_FOUND', 'not-found');
    });
  });

  describe('RecordActionResult for messages and proposals', () => {
    /** A recorded decision with these actions, as `decision-2`. */
    const decidedWith = (...actions: AgentAction[]): AgentEvent => {
      const recorded = decisionRecorded('decision-2') as Extract<AgentEvent, { type: 'agent.decision-recorded' }>;
      return { ...recorded, data: { ...recorded.data, actions: actions.map((action, index) => ({ index, action })) } };
    };
    const result = (index: number, outcome: RecordActionResult['data']['outcome']): AgentCommand => ({
      type: 'RecordActionResult',
      data: { agentId, decisionId: 'decision-2', index, outcome },
    });
    const executed = (index: number, action: AgentAction['action'], outcome: unknown): AgentEvent => ({
      type: 'agent.action-executed',
      data: { agentId, decisionId: 'decision-2', index, action, result: outcome },
    });
    const sendMessage: AgentAction = { action: 'send-message', to: 'agent-2', content: 'order 7 is late', replyWithin: 'PT30S' };
    const message = { messageId: 'message-9', to: 'agent-2', content: 'order 7 is late', replyDueAt: '2026-01-01T00:00:30.000Z' };

    it('a send-message that succeeded records the message sent, in the same append', () => {
      spec
        .given([defined, decidedWith(sendMessage)])
        .when(result(0, { status: 'succeeded', result: message }))
        .then([
          executed(0, 'send-message', message),
          { type: 'agent.message-sent', data: { agentId, ...message, decisionId: 'decision-2', index: 0 } },
        ]);
    });

    it('a send-message that failed sends nothing', () => {
      spec
        .given([defined, decidedWith(sendMessage)])
        .when(result(0, { status: 'failed', error: { code: 'RECIPIENT_NOT_FOUND', message: 'Agent agent-2 does not exist' } }))
        .then([
          {
            type: 'agent.action-failed',
            data: { agentId, decisionId: 'decision-2', index: 0, action: 'send-message', error: { code: 'RECIPIENT_NOT_FOUND', message: 'Agent agent-2 does not exist' } },
          },
        ]);
    });

    it('rejects a send-message result that is not a message', () => {
      spec.given([defined, decidedWith(sendMessage)]).when(result(0, { status: 'succeeded', result: { to: 'agent-2' } })).thenThrows('VALIDATION_FAILED', 'validation');
    });

    it('a reply to another agent records the message back to it, marked as the reply to its request', () => {
      const reply = { messageId: 'message-10', to: 'agent-3', content: '42', inReplyTo: 'message-8' };
      spec
        .given([defined, decidedWith({ action: 'reply', text: '42' })])
        .when(result(0, { status: 'succeeded', result: { message: reply } }))
        .then([executed(0, 'reply', { message: reply }), { type: 'agent.message-sent', data: { agentId, ...reply, decisionId: 'decision-2', index: 0 } }]);
    });

    it('a reply in a conversation sends no agent message', () => {
      const stored = { conversationId: 'conversation-1', messageId: 'message-11' };
      spec.given([defined, decidedWith({ action: 'reply', text: 'hi' })]).when(result(0, { status: 'succeeded', result: stored })).then([executed(0, 'reply', stored)]);
    });

    it('an approved proposal to send a message records the message sent', () => {
      const outcome = { approval: 'approve', approvalId: 'approval-1', proposed: 'send-message', result: message };
      spec
        .given([defined, decidedWith({ action: 'propose', proposed: sendMessage })])
        .when(result(0, { status: 'succeeded', result: outcome }))
        .then([executed(0, 'propose', outcome), { type: 'agent.message-sent', data: { agentId, ...message, decisionId: 'decision-2', index: 0 } }]);
    });

    it('an approved proposal to remember updates the memory', () => {
      const outcome = { approval: 'approve', approvalId: 'approval-1', proposed: 'remember', result: { key: 'refund', value: 'order-7' } };
      spec
        .given([defined, decidedWith({ action: 'propose', proposed: { action: 'remember', key: 'refund', value: 'order-7' } })])
        .when(result(0, { status: 'succeeded', result: outcome }))
        .then([executed(0, 'propose', outcome), { type: 'agent.memory-updated', data: { agentId, key: 'refund', value: 'order-7', decisionId: 'decision-2', index: 0 } }]);
    });

    it('an approved proposal for an action with no fact of its own (a webhook) records only its outcome', () => {
      const outcome = { approval: 'approve', approvalId: 'approval-1', proposed: 'call-webhook', result: { status: 200, attempts: 1 } };
      spec
        .given([defined, decidedWith({ action: 'propose', proposed: { action: 'call-webhook', url: 'https://hooks.example.test/x' } })])
        .when(result(0, { status: 'succeeded', result: outcome }))
        .then([executed(0, 'propose', outcome)]);
    });

    it.each(['rejected', 'expired'])('a proposal %s sends no message and remembers nothing', (how) => {
      const rejected = (proposed: string) => ({ approval: 'reject', approvalId: 'approval-1', proposed, how });
      spec
        .given([defined, decidedWith({ action: 'propose', proposed: sendMessage })])
        .when(result(0, { status: 'succeeded', result: rejected('send-message') }))
        .then([executed(0, 'propose', rejected('send-message'))]);
      spec
        .given([defined, decidedWith({ action: 'propose', proposed: { action: 'remember', key: 'refund', value: 'order-7' } })])
        .when(result(0, { status: 'succeeded', result: rejected('remember') }))
        .then([executed(0, 'propose', rejected('remember'))]);
    });

    it('settles the proposal: its (decisionId, index) is recorded once', () => {
      const outcome = { approval: 'approve', approvalId: 'approval-1', proposed: 'send-message', result: message };
      const given = [defined, decidedWith({ action: 'propose', proposed: sendMessage }, { action: 'remember', key: 'k', value: 1 }), executed(0, 'propose', outcome)];
      spec.given(given).when(result(0, { status: 'succeeded', result: outcome })).thenThrows('ACTION_ALREADY_EXECUTED', 'conflict');
      expect(fold(agentDecider, given)?.openDecisions).toEqual({ 'decision-2': { actions: ['propose', 'remember'], settled: [0] } });
    });
  });

  describe('ReceiveMessage', () => {
    const from = { kind: 'user' as const, id: 'user-1' };
    const received: AgentEvent = { type: 'agent.message-received', data: { agentId, messageId: 'message-1', from, content: 'hello' } };

    it('receives a message with the id it is given', () => {
      spec.given([defined]).when({ type: 'ReceiveMessage', data: { agentId, messageId: 'message-1', from, content: 'hello' } }).then([received]);
    });

    it('takes a new id from the context when none is given', () => {
      spec
        .given([defined])
        .when({ type: 'ReceiveMessage', data: { agentId, from: { kind: 'agent', id: 'agent-2' }, content: 'hello' } }, { newId: () => 'generated' })
        .then([{ type: 'agent.message-received', data: { agentId, messageId: 'generated', from: { kind: 'agent', id: 'agent-2' }, content: 'hello' } }]);
    });

    it('receives while paused: the mailbox keeps it until the agent resumes', () => {
      spec.given([defined, paused]).when({ type: 'ReceiveMessage', data: { agentId, messageId: 'message-1', from, content: 'hello' } }).then([received]);
    });

    it('is a no-op for a message already received', () => {
      spec.given([defined, received]).when({ type: 'ReceiveMessage', data: { agentId, messageId: 'message-1', from, content: 'hello' } }).thenNothingHappens();
    });

    it('rejects a message for a retired agent', () => {
      spec.given([defined, retired]).when({ type: 'ReceiveMessage', data: { agentId, messageId: 'message-1', from, content: 'hello' } }).thenThrows('AGENT_RETIRED', 'gone');
    });

    it('rejects empty or oversize content and a malformed sender', () => {
      spec.given([defined]).when({ type: 'ReceiveMessage', data: { agentId, from, content: '  ' } }).thenThrows('VALIDATION_FAILED', 'validation');
      spec.given([defined]).when({ type: 'ReceiveMessage', data: { agentId, from, content: 'x'.repeat(10_001) } }).thenThrows('VALIDATION_FAILED');
      spec.given([defined]).when({ type: 'ReceiveMessage', data: { agentId, from: { kind: 'robot' as never, id: 'r' }, content: 'hi' } }).thenThrows('VALIDATION_FAILED');
    });

    it('rejects an unknown agent', () => {
      spec.given([]).when({ type: 'ReceiveMessage', data: { agentId, from, content: 'hello' } }).thenThrows('AGENT_NOT_FOUND', 'not-found');
    });
  });

  describe('state', () => {
    it('folds status, version, open decisions and memory', () => {
      const state = fold(agentDecider, [
        defined,
        { type: 'agent.reconfigured', data: { agentId, definition: { ...definition, kind: 'monitor' }, version: 2, changed: ['kind'] } },
        paused,
        resumed,
        decisionRecorded(),
        replyExecuted,
        { type: 'agent.memory-updated', data: { agentId, key: 'last-order', value: 'order-7', decisionId: 'decision-1', index: 1 } },
      ]);
      expect(state).toMatchObject({
        id: agentId,
        status: 'active',
        version: 2,
        decisionCount: 1,
        openDecisions: { 'decision-1': { actions: ['reply', 'remember'], settled: [0] } },
        memory: { 'last-order': 'order-7' },
      });
    });

    it('tracks the mailbox revision its decisions covered: -1 before any, then the highest, never moving back', () => {
      const at = (decisionId: string, mailboxRevision: number): AgentEvent => {
        const recorded = decisionRecorded(decisionId) as Extract<AgentEvent, { type: 'agent.decision-recorded' }>;
        return { ...recorded, data: { ...recorded.data, actions: [], mailboxRevision } };
      };
      expect(fold(agentDecider, [defined])?.mailboxRevision).toBe(-1);
      expect(fold(agentDecider, [defined, at('d-1', 0), at('d-2', 3)])?.mailboxRevision).toBe(3);
      expect(fold(agentDecider, [defined, at('d-1', 5), at('d-2', 2)])?.mailboxRevision).toBe(5);
      // A decision recorded without a placement (by an older writer) leaves it where it was.
      expect(fold(agentDecider, [defined, at('d-1', 1), decisionRecorded('d-2')])?.mailboxRevision).toBe(1);
    });

    it('keeps a bounded window of recent decision ids', () => {
      const decisions = Array.from({ length: AGENT_RECENT_ID_WINDOW + 5 }, (_, i) => ({
        type: 'agent.decision-recorded' as const,
        data: { ...(decisionRecorded(`d-${i}`).data as Extract<AgentEvent, { type: 'agent.decision-recorded' }>['data']), actions: [] },
      }));
      const state = fold(agentDecider, [defined, ...decisions]);
      expect(state?.decisionCount).toBe(AGENT_RECENT_ID_WINDOW + 5);
      expect(state?.recentDecisionIds).toHaveLength(AGENT_RECENT_ID_WINDOW);
      expect(state?.recentDecisionIds[0]).toBe('d-5');
      expect(state?.openDecisions).toEqual({});
    });
  });
});
