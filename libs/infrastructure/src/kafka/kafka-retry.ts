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
 * Runs `work` until it succeeds, waiting between attempts with exponential backoff and jitter
 * (base, 2×, 4×… capped at 5 s). Failures count only while the dependencies are up; after
 * `maxAttempts` counted failures the outcome carries the last error (the caller dead-letters).
 * Throws ConsumerStoppingError when abandoned. (A retry library does not fit: a failure during an
 * outage must wait without counting, for as long as the outage lasts.)
 */
export async function attemptWithBackoff<T>(work: () => Promise<T>, options: AttemptOptions): Promise<AttemptOutcome<T>> {
  let counted = 0;
  for (let attempt = 1; ; attempt++) {
    if (!options.isActive()) throw new ConsumerStoppingError();
    try {
      return { ok: true, value: await work() };
    } catch (error) {
      if (!(await options.isOutage())) counted += 1;
      if (counted >= options.maxAttempts) return { ok: false, error, attempts: counted };
    }
    await sleep(backoffDelay(attempt, options.baseDelayMs));
  }
}

/** Exponential backoff with jitter: attempt 1 waits about `baseMs`, then doubles, capped. */
export function backoffDelay(attempt: number, baseMs: number, capMs = 5_000): number {
  const ceiling = Math.min(capMs, Math.max(1, baseMs) * 2 ** Math.min(30, attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
