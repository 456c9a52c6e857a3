import type { AgentAction, AgentDefinitionInput, AgentDefinitionPatch, LlmProvider } from './agent.definition';

/** Commands of the agent aggregate (stream `<tenant>/agent-<agentId>`). */

export type DefineAgent = {
  readonly type: 'DefineAgent';
  readonly data: { readonly agentId: string; readonly definition: AgentDefinitionInput };
};

/** Changes part of the definition; the result is a new definition version. */
export type ReconfigureAgent = {
  readonly type: 'ReconfigureAgent';
  readonly data: { readonly agentId: string; readonly changes: AgentDefinitionPatch };
};

export type PauseAgent = { readonly type: 'PauseAgent'; readonly data: { readonly agentId: string; readonly reason?: string } };
/** `replayMissed`: the events the agent's subscriptions matched while it was paused are routed to it now. */
export type ResumeAgent = { readonly type: 'ResumeAgent'; readonly data: { readonly agentId: string; readonly replayMissed?: boolean } };
export type RetireAgent = { readonly type: 'RetireAgent'; readonly data: { readonly agentId: string; readonly reason?: string } };

/** What a decision reacted to: a domain event, a chat message, a trigger's task, another agent's message. */
export const DECISION_INPUT_KINDS = ['event', 'message', 'task', 'agent-message'] as const;
export type DecisionInputKind = (typeof DECISION_INPUT_KINDS)[number];

export interface DecisionInput {
  readonly kind: DecisionInputKind;
  /** Id of what was reacted to: event id, message id, trigger firing id. */
  readonly ref: string;
  readonly payload: unknown;
}

/**
 * Where a decision sits in the agent's mailbox and its chain. `mailboxRevision` is the revision of
 * the last mailbox entry the decision covers: the agent's mailbox is processed up to there once the
 * decision (or its failure) is recorded, which is what makes a restart resume after it.
 */
export interface DecisionPlacement {
  readonly mailboxRevision?: number;
  /** Earlier inputs folded into this decision (mailbox policy `coalesce`, or after an interrupt). */
  readonly coalesced?: readonly DecisionInput[];
  /** Hop of what the decision causes: the input's hop + 1. */
  readonly hop?: number;
}

export interface DecisionEngine {
  readonly type: 'rules' | 'llm';
  readonly provider?: LlmProvider;
  readonly model?: string;
}

export interface DecisionUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
  readonly costUsd: number;
}

/** Appended by the runtime once an engine has decided, before any action runs. */
export type RecordDecision = {
  readonly type: 'RecordDecision';
  readonly data: {
    readonly agentId: string;
    readonly decisionId: string;
    readonly input: DecisionInput;
    readonly engine: DecisionEngine;
    /** The definition version the engine ran with. */
    readonly definitionVersion: number;
    /** The engine's full output, verbatim, so a replay never has to ask the engine again. */
    readonly output: unknown;
    /** The actions to run, in order; each gets its index as part of its idempotency key. */
    readonly actions: readonly AgentAction[];
    readonly usage: DecisionUsage;
    readonly latencyMs: number;
  } & DecisionPlacement;
};

/** The engine could not decide (provider down, invalid output, budget): recorded, never silent. */
export type RecordDecisionFailure = {
  readonly type: 'RecordDecisionFailure';
  readonly data: {
    readonly agentId: string;
    readonly decisionId: string;
    readonly input: DecisionInput;
    readonly engine: DecisionEngine;
    readonly definitionVersion: number;
    readonly error: ActionError;
    /** What the engine produced before failing (an invalid answer), verbatim. */
    readonly output?: unknown;
    readonly usage: DecisionUsage;
    readonly latencyMs: number;
  } & DecisionPlacement;
};

/** Mailbox policy `interrupt`: a newer input cancelled the decision in flight; the next one sees both. */
export type RecordDecisionCancellation = {
  readonly type: 'RecordDecisionCancellation';
  readonly data: {
    readonly agentId: string;
    readonly decisionId: string;
    readonly input: DecisionInput;
    readonly reason: string;
    /** The input that interrupted it. */
    readonly interruptedBy?: string;
    readonly latencyMs: number;
  };
};

export interface ActionError {
  readonly message: string;
  readonly code?: string;
}

export type ActionOutcome =
  /** For a `remember` action, `result` is the rendered `{ key, value }`, which updates the memory. */
  | { readonly status: 'succeeded'; readonly result?: unknown }
  | { readonly status: 'failed'; readonly error: ActionError };

/** The outcome of action `index` of a decision; `(decisionId, index)` is recorded at most once. */
export type RecordActionResult = {
  readonly type: 'RecordActionResult';
  readonly data: { readonly agentId: string; readonly decisionId: string; readonly index: number; readonly outcome: ActionOutcome };
};

export const MESSAGE_SENDER_KINDS = ['user', 'agent', 'system'] as const;
export interface MessageSender {
  readonly kind: (typeof MESSAGE_SENDER_KINDS)[number];
  readonly id: string;
}

/** A message for the agent's mailbox. `messageId` defaults to `context.newId()`. */
export type ReceiveMessage = {
  readonly type: 'ReceiveMessage';
  readonly data: { readonly agentId: string; readonly messageId?: string; readonly from: MessageSender; readonly content: string };
};

export type AgentCommand =
  | DefineAgent
  | ReconfigureAgent
  | PauseAgent
  | ResumeAgent
  | RetireAgent
  | RecordDecision
  | RecordDecisionFailure
  | RecordDecisionCancellation
  | RecordActionResult
  | ReceiveMessage;
