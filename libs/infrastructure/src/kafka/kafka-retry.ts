import retry from 'async-retry';

/** Thrown to abandon a batch (uncommitted, delivered again later) when the consumer is stopping. */
export class ConsumerStoppingError extends Error {
  readonly code = 'CONSUMER_STOPPING';
  constructor() {
    super('the consumer is stopping; the batch will be delivered again');
    this.name = 'ConsumerStoppingError';
  }
}

export type AttemptOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown; readonly attempts: number };

export interface AttemptOptions {
  /** Failures counted against the message before giving up. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  /** False once the work should be abandoned (stopping, partition taken away). */
  readonly isActive: () => boolean;
  /**
   * True while a dependency is down (the event store does not answer): a failure then says
   * nothing about the message, so it is not counted — the consumer waits, it does not dead-letter.
   */
  readonly isOutage: () => Promise<boolean>;
}

/**
 * Runs `work` until it succeeds, with exponential backoff (async-retry). Failures count only while
 * the dependencies are up; after `maxAttempts` counted failures the outcome carries the last error
 * (the caller dead-letters). Throws ConsumerStoppingError when abandoned.
 */
export async function attemptWithBackoff<T>(work: () => Promise<T>, options: AttemptOptions): Promise<AttemptOutcome<T>> {
  let counted = 0;
  let lastError: unknown = null;
  try {
    const value = await retry(
      async (bail) => {
        if (!options.isActive()) {
          bail(new ConsumerStoppingError());
          return undefined as T;
        }
        try {
          return await work();
        } catch (error) {
          lastError = error;
          if (!(await options.isOutage())) counted += 1;
          if (counted >= options.maxAttempts) bail(new AttemptsExhausted());
          throw error;
        }
      },
      { retries: Number.MAX_SAFE_INTEGER, minTimeout: Math.max(1, options.baseDelayMs), factor: 2, maxTimeout: 5_000, randomize: true },
    );
    return { ok: true, value };
  } catch (error) {
    if (error instanceof AttemptsExhausted) return { ok: false, error: lastError, attempts: counted };
    throw error;
  }
}

class AttemptsExhausted extends Error {}
