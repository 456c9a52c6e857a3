import type { LlmProvider } from '@meridian/domain';

/**
 * Why an LLM decision failed. The codes are stable: the runtime records them in failed decisions
 * and operators alert on them.
 *
 * - `LLM_PROVIDER_UNSUPPORTED`: this build cannot talk to the engine's provider.
 * - `LLM_RATE_LIMITED`: 429 on every attempt.
 * - `LLM_QUOTA_EXHAUSTED`: 429 `insufficient_quota` (not retried: waiting does not help).
 * - `LLM_PROVIDER_ERROR`: 5xx (or 408) on every attempt.
 * - `LLM_PROVIDER_UNREACHABLE`: no HTTP answer at all (connection refused, reset) on every attempt.
 * - `LLM_TIMEOUT`: every attempt ran past the per-attempt timeout.
 * - `LLM_AUTHENTICATION_FAILED`: 401/403 (not retried).
 * - `LLM_REQUEST_REJECTED`: another 4xx, e.g. an unknown model (not retried).
 * - `LLM_ABORTED`: the caller's signal aborted the decision (not retried).
 * - `LLM_INVALID_OUTPUT`: the model answered, but a tool call is not a valid allowed action. The
 *   answer, its usage and cost are in `output`, so the spending is still accounted for.
 * - `LLM_ENGINE_ERROR`: anything else (a fault in the client library or in `onToken`).
 */
export const LLM_DECISION_ERROR_CODES = [
  'LLM_PROVIDER_UNSUPPORTED',
  'LLM_RATE_LIMITED',
  'LLM_QUOTA_EXHAUSTED',
  'LLM_PROVIDER_ERROR',
  'LLM_PROVIDER_UNREACHABLE',
  'LLM_TIMEOUT',
  'LLM_AUTHENTICATION_FAILED',
  'LLM_REQUEST_REJECTED',
  'LLM_ABORTED',
  'LLM_INVALID_OUTPUT',
  'LLM_ENGINE_ERROR',
] as const;
export type LlmDecisionErrorCode = (typeof LLM_DECISION_ERROR_CODES)[number];

export interface LlmDecisionFailure<TOutput = unknown> {
  readonly provider: LlmProvider;
  readonly model: string;
  /** Model calls made (0 when none could be made). */
  readonly attempts: number;
  /** The HTTP status of the last failed call, when there was one. */
  readonly status?: number;
  /** For `LLM_INVALID_OUTPUT`: the decision as it would have been recorded, and what is wrong with it. */
  readonly output?: TOutput;
  readonly issues?: ReadonlyArray<{ readonly path: string; readonly message: string }>;
}

export class LlmDecisionFailedError<TOutput = unknown> extends Error {
  override readonly name = 'LlmDecisionFailedError';

  constructor(
    readonly code: LlmDecisionErrorCode,
    message: string,
    readonly failure: LlmDecisionFailure<TOutput>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
