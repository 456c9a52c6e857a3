import type { AgentAction, AgentTool, DecisionUsage, LlmEngine } from '@meridian/domain';

/**
 * The LLM engine as the runtime sees it (implemented in infrastructure with LangChain). One call is
 * one decision: the answer's tool calls are the actions; the output is recorded verbatim.
 */
export const LLM_DECIDER = Symbol('LlmDecider');

export interface LlmTurn {
  readonly role: 'user' | 'assistant';
  readonly content: string;
}

export interface LlmDeciderRequest {
  readonly instructions?: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly history?: readonly LlmTurn[];
  readonly allowedTools: readonly AgentTool[];
}

export interface LlmDeciderResult {
  /** Everything worth recording, verbatim (messages, tool calls, attempts, …). */
  readonly output: unknown;
  readonly actions: readonly AgentAction[];
  readonly usage: DecisionUsage;
}

/** A failed decision: `output` holds what the model answered, when it answered something unusable. */
export interface LlmDeciderFailure {
  readonly code: string;
  readonly message: string;
  readonly output?: unknown;
  readonly aborted: boolean;
}

export interface LlmDecider {
  decide(
    engine: LlmEngine,
    request: LlmDeciderRequest,
    options: { readonly signal?: AbortSignal; readonly onToken?: (delta: string) => void },
  ): Promise<LlmDeciderResult>;
  /** Describes an error thrown by `decide`. */
  describeFailure(error: unknown): LlmDeciderFailure;
}
