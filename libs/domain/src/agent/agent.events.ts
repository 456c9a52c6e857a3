import type { ActionError, DecisionEngine, DecisionInput, DecisionUsage, MessageSender } from './agent.commands';
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

export type AgentResumed = { readonly type: 'agent.resumed'; readonly data: { readonly agentId: string; readonly version: number } };

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
  'agent.action-executed',
  'agent.action-failed',
  'agent.message-received',
  'agent.memory-updated',
] as const satisfies readonly AgentEventType[];
