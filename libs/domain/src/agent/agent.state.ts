import type { AgentActionName, AgentDefinition } from './agent.definition';

export const AGENT_STATUSES = ['active', 'paused', 'retired'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** A decision whose actions have not all been recorded as executed or failed yet. */
export interface OpenDecision {
  /** Action names by index. */
  readonly actions: readonly AgentActionName[];
  /** Indexes already executed or failed. */
  readonly settled: readonly number[];
}

/**
 * How many recent decision ids and message ids the state remembers to make retries idempotent.
 * A window rather than every id keeps folding a long-lived agent linear: ids are fresh per
 * decision and per message, so a duplicate only comes from a retry, which follows its original
 * closely. Open decisions are always kept in full, so an action's (decisionId, index) key is
 * recorded at most once whatever the window: once every action of a decision has settled, further
 * results for it are rejected (ACTION_ALREADY_EXECUTED within the window, DECISION_NOT_FOUND after).
 */
export const AGENT_RECENT_ID_WINDOW = 256;

export interface DefinedAgentState {
  readonly id: string;
  readonly status: AgentStatus;
  readonly definition: AgentDefinition;
  /** Definition version: 1 when defined, +1 per reconfiguration. */
  readonly version: number;
  readonly decisionCount: number;
  readonly messageCount: number;
  readonly openDecisions: Readonly<Record<string, OpenDecision>>;
  /** Oldest first, at most AGENT_RECENT_ID_WINDOW. */
  readonly recentDecisionIds: readonly string[];
  /** Oldest first, at most AGENT_RECENT_ID_WINDOW. */
  readonly recentMessageIds: readonly string[];
  /**
   * Revision of the last mailbox entry a recorded decision (or failure) covered; -1 before any.
   * The runtime resumes the mailbox after it.
   */
  readonly mailboxRevision: number;
  /** What `remember` actions stored, by key. */
  readonly memory: Readonly<Record<string, unknown>>;
}

/** Null until the agent is defined. */
export type AgentState = DefinedAgentState | null;

export const initialAgentState = (): AgentState => null;

export function appendToWindow(window: readonly string[], id: string, size: number = AGENT_RECENT_ID_WINDOW): readonly string[] {
  const next = [...window, id];
  return next.length > size ? next.slice(next.length - size) : next;
}
