import type { IngestBatch } from './ingest-workload';

export interface HttpLoadOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly concurrency: number;
  /** Called about every `progressEveryMs` with the events acknowledged so far. */
  readonly onProgress?: (acknowledgedEvents: number, elapsedMs: number) => void;
  readonly progressEveryMs?: number;
}

export interface HttpLoadResult {
  readonly events: number;
  readonly requests: number;
  readonly elapsedMs: number;
  /** Latency of every 202 (request sent to body read), milliseconds. */
  readonly latenciesMs: number[];
  /** Status (or `network: <message>`) of every answer that was not a 202, with how often. */
  readonly errors: Map<string, number>;
  /** Highest `position` a 202 answered with (0 when the server does not report one). */
  readonly maxPosition: number;
}

/**
 * Sends the batches with `concurrency` clients, each POSTing its next batch as soon as its
 * previous one is answered (closed loop). Node's fetch (undici) keeps connections alive, so each
 * client reuses one connection.
 */
export async function runHttpLoad(batches: readonly IngestBatch[], options: HttpLoadOptions): Promise<HttpLoadResult> {
  const latenciesMs: number[] = [];
  const errors = new Map<string, number>();
  let next = 0;
  let acknowledged = 0;
  let maxPosition = 0;
  const fail = (key: string) => errors.set(key, (errors.get(key) ?? 0) + 1);

  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e6;
  const ticker = options.onProgress
    ? setInterval(() => options.onProgress?.(acknowledged, elapsed()), options.progressEveryMs ?? 2000)
    : null;

  const client = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++];
      const sent = process.hrtime.bigint();
      try {
        const res = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...options.headers },
          body: batch.body,
        });
        const text = await res.text();
        if (res.status !== 202) {
          fail(`HTTP ${res.status}: ${text.slice(0, 200)}`);
          continue;
        }
        latenciesMs.push(Number(process.hrtime.bigint() - sent) / 1e6);
        acknowledged += batch.events.length;
        const position = positionOf(text);
        if (position > maxPosition) maxPosition = position;
      } catch (error) {
        fail(`network: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, client));
  } finally {
    if (ticker) clearInterval(ticker);
  }
  return { events: acknowledged, requests: batches.length, elapsedMs: elapsed(), latenciesMs, errors, maxPosition };
}

function positionOf(body: string): number {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'position' in parsed && typeof parsed.position === 'number') return parsed.position;
  } catch {
    // Not JSON: no position to report.
  }
  return 0;
}

/** Nearest-rank percentile (`p` in 0..100) of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}
