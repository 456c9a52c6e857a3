import type { ActionError, DecisionEngine, DecisionInput, DecisionPlacement, DecisionUsage, MessageSender } from './agent.commands';
import type { AgentAction, AgentActionName, AgentDefinition } from './agent.definition';

/** Stream `<tenant>/agent-<agentId>`. */
export const AGENT_STREAM_CATEGORY = 'agent' as const;

/* Lifecycle. `version` is the definition version in force after the event. */

export type AgentDefined = {
  readonly type: 'agent.defined';
  readonly data: { readonly agentId: string; readonly definition: AgentDefinition; readonly version: number };
};

export type AgentReconfigured = {
  readonly type: 'agent.reconfigured';
  readonly data: {
    readonly agentId: string;
    /** The whole new definition, so readers never have to merge patches. */
    readonly definition: AgentDefinition;
    readonly version: number;
    /** Top-level definition fields that changed. */
    readonly changed: readonly (keyof AgentDefinition)[];
  };
};

export type AgentPaused = {
  readonly type: 'agent.paused';
  readonly data: { readonly agentId: string; readonly version: number; readonly reason?: string };
};

export type AgentResumed = {
  readonly type: 'agent.resumed';
  /** `replayMissed`: route to it what it missed while paused (by default it only gets what comes next). */
  readonly data: { readonly agentId: string; readonly version: number; readonly replayMissed?: true };
};

export type AgentRetired = {
  readonly type: 'agent.retired';
  readonly data: { readonly agentId: string; readonly version: number; readonly reason?: string };
};

/* Runtime: appended as the agent works. */

export interface IndexedAgentAction {
  readonly index: number;
  readonly action: AgentAction;
}

/** One step of the agent, with the engine's output verbatim: replaying it never calls a model again. */
export type AgentDecisionRecorded = {
  readonly type: 'agent.decision-recorded';
  readonly data: {
    readonly agentId: string;
    readonly decisionId: string;
    readonly input: DecisionInput;
    readonly engine: DecisionEngine;
    readonly definitionVersion: number;
    readonly output: unknown;
    readonly actions: readonly IndexedAgentAction[];
    readonly usage: DecisionUsage;
    readonly latencyMs: number;
    readonly correlationId: string;
  } & DecisionPlacement;
};

export type AgentDecisionFailed = {
  readonly type: 'agent.decision-failed';
  readonly data: {
    readonly agentId: string;
    readonly decisionId: string;
    readonly input: DecisionInput;
    readonly engine: DecisionEngine;
    readonly definitionVersion: number;
    readonly error: ActionError;
    readonly output?: unknown;
    readonly usage: DecisionUsage;
    readonly latencyMs: number;
    readonly correlationId: string;
  } & DecisionPlacement;
};

export type AgentDecisionCancelled = {
  readonly type: 'agent.decision-cancelled';
  readonly data: {
    readonly agentId: string;
    readonly decisionId: string;
    readonly input: DecisionInput;
    readonly reason: string;
    readonly interruptedBy?: string;
    readonly latencyMs: number;
  };
};

/**
 * Written with the `agent.action-executed` of a send-message action (same append): the message
 * itself. The router delivers it to the recipients' mailboxes, so the sender's stream is its one copy.
 */
export type AgentMessageSent = {
  readonly type: 'agent.message-sent';
  readonly data: {
    readonly agentId: string;
    readonly messageId: string;
    /** As the action named it: an agent id, `kind:<kind>` or `tag:<tag>`. */
    readonly to: string;
    readonly content: string;
    readonly decisionId: string;
    readonly index: number;
    /** Set when this message answers a request (the request's message id). */
    readonly inReplyTo?: string;
    /** Set when this message is a request: the ISO-8601 instant a reply is due by. */
    readonly replyDueAt?: string;
  };
};

export type AgentActionExecuted = {
  readonly type: 'agent.action-executed';
  readonly data: {
    readonly agentId: string;
    readonly decisionId: string;
    readonly index: number;
    readonly action: AgentActionName;
    readonly result?: unknown;
  };
};

export type AgentActionFailed = {
  readonly type: 'agent.action-failed';
  readonly data: {
    readonly agentId: string;
    readonly decisionId: string;
    readonly index: number;
    readonly action: AgentActionName;
    readonly error: ActionError;
  };
};

export type AgentMessageReceived = {
  readonly type: 'agent.message-received';
  readonly data: { readonly agentId: string; readonly messageId: string; readonly from: MessageSender; readonly content: string };
};

/** Written by a `remember` action: (decisionId, index) is the action that wrote it. */
export type AgentMemoryUpdated = {
  readonly type: 'agent.memory-updated';
  readonly data: {
    readonly agentId: string;
    readonly key: string;
    readonly value: unknown;
    readonly decisionId: string;
    readonly index: number;
  };
};

export type AgentEvent =
  | AgentDefined
  | AgentReconfigured
  | AgentPaused
  | AgentResumed
  | AgentRetired
  | AgentDecisionRecorded
  | AgentDecisionFailed
  | AgentDecisionCancelled
  | AgentMessageSent
  | AgentActionExecuted
  | AgentActionFailed
  | AgentMessageReceived
  | AgentMemoryUpdated;

export type AgentEventType = AgentEvent['type'];

export const AGENT_EVENT_TYPES = [
  'agent.defined',
  'agent.reconfigured',
  'agent.paused',
  'agent.resumed',
  'agent.retired',
  'agent.decision-recorded',
  'agent.decision-failed',
  'agent.decision-cancelled',
  'agent.message-sent',
  'agent.action-executed',
  'agent.action-failed',
  'agent.message-received',
  'agent.memory-updated',
] as const satisfies readonly AgentEventType[];
