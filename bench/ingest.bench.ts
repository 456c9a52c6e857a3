/**
 * HTTP ingestion throughput of the standalone server (a real OS process, SQLite, default settings):
 * N keep-alive clients POST JSON arrays of CloudEvents to /api/v1/events; events/s, latency of the
 * 202s, the server's peak RSS, and how long the read models take to catch up afterwards.
 *
 *   npm run bench:ingest                                   # 100000 events, 8 clients, batches of 100
 *   BENCH_EVENTS=200000 BENCH_CONCURRENCY=16 npm run bench:ingest
 *
 * Two peers in the same run, same batches, same machine:
 * - direct store: the append requests the ingestion makes, through `SqliteEventStore.appendMany`
 *   in process into a fresh file: what the store can take, with no HTTP, parsing or validation;
 * - bare HTTP: a plain Node http server (own process) that parses the JSON and answers 202,
 *   storing nothing: what HTTP with this client costs on this machine.
 * The runs are sequential, so no two compete for the CPU. Any answer other than 202 is an error:
 * it is reported and the benchmark exits non-zero.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import { killHard, spawnStandalone } from '../test/e2e/support/standalone-process';
import { formatRate, progress, table } from './support/bench-report';
import { percentile, runHttpLoad, type HttpLoadResult } from './support/ingest-http-load';
import { formatMiB, RssSampler } from './support/ingest-process-memory';
import { makeBatches, toAppendRequests, type IngestBatch } from './support/ingest-workload';

const EVENTS = positiveInt(process.env.BENCH_EVENTS, 100_000);
const CONCURRENCY = positiveInt(process.env.BENCH_CONCURRENCY, 8);
const WARMUP_EVENTS = 5_000;
const BATCH = 100;
const TENANT = 'default';
const API_KEY = `bench-admin-${randomUUID()}`;
/** How long the read models may take to catch up before the run counts as failed. */
const CATCH_UP_LIMIT_MS = 120_000;

interface Row {
  readonly name: string;
  readonly events: number;
  readonly elapsedMs: number;
  readonly latenciesMs: readonly number[];
  readonly peakRssBytes: number;
  readonly errors: number;
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function rate(row: Pick<Row, 'events' | 'elapsedMs'>): number {
  return (row.events / row.elapsedMs) * 1000;
}

function reportErrors(label: string, errors: Map<string, number>): number {
  let total = 0;
  for (const [what, count] of errors) {
    total += count;
    progress(`  ${label}: ${count}× ${what}`);
  }
  return total;
}

/** Runs the load with progress lines; warm-up first (its errors count too, its timings do not). */
async function measureHttp(
  label: string,
  url: string,
  headers: Record<string, string>,
  warm: readonly IngestBatch[],
  batches: readonly IngestBatch[],
  rss: RssSampler,
): Promise<{ result: HttpLoadResult; errors: number }> {
  progress(`${label}: warm-up, ${WARMUP_EVENTS} events`);
  const warmUp = await runHttpLoad(warm, { url, headers, concurrency: CONCURRENCY });
  let errors = reportErrors(`${label} warm-up`, warmUp.errors);
  progress(`${label}: ${EVENTS} events, ${CONCURRENCY} clients, batches of ${BATCH}`);
  const result = await runHttpLoad(batches, {
    url,
    headers,
    concurrency: CONCURRENCY,
    onProgress: (done, ms) =>
      progress(`  ${label}: ${done}/${EVENTS} events, ${formatRate((done / ms) * 1000)} events/s, server RSS ${formatMiB(rss.current())}`),
  });
  errors += reportErrors(label, result.errors);
  progress(`  ${label}: ${result.events} events in ${(result.elapsedMs / 1000).toFixed(2)} s = ${formatRate((result.events / result.elapsedMs) * 1000)} events/s`);
  return { result, errors };
}

/** Polls a read with `minPosition` until it answers 200: the read models have caught up. */
async function waitForReadModels(baseUrl: string, position: number): Promise<{ ms: number; ok: boolean; detail: string }> {
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e6;
  let detail = '';
  while (elapsed() < CATCH_UP_LIMIT_MS) {
    const res = await fetch(`${baseUrl}/api/v1/events?limit=1&minPosition=${position}`, { headers: { 'x-api-key': API_KEY } });
    const text = await res.text();
    if (res.status === 200) return { ms: elapsed(), ok: true, detail: '' };
    detail = `HTTP ${res.status}: ${text.slice(0, 200)}`;
    // 503 READ_MODELS_BEHIND after the server's own wait: ask again. Anything else is a failure.
    if (res.status !== 503) return { ms: elapsed(), ok: false, detail };
    progress(`  read models not at ${position} yet after ${(elapsed() / 1000).toFixed(1)} s`);
  }
  return { ms: elapsed(), ok: false, detail: `not caught up in ${CATCH_UP_LIMIT_MS} ms (${detail})` };
}

async function benchStandalone(warm: readonly IngestBatch[], batches: readonly IngestBatch[]): Promise<{ row: Row; catchUp: string; failed: boolean }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-bench-ingest-'));
  let child: ChildProcess | null = null;
  try {
    progress('standalone: starting the server');
    const proc = await spawnStandalone({ MERIDIAN_DATA_DIR: dataDir, MERIDIAN_ADMIN_API_KEY: API_KEY, LOG_LEVEL: 'warn' });
    child = proc.child;
    const pid = child.pid;
    if (pid === undefined) throw new Error('standalone has no pid');
    const rss = new RssSampler(pid);
    progress(`standalone: listening at ${proc.baseUrl} (pid ${pid}, RSS ${formatMiB(rss.current())})`);

    const { result, errors } = await measureHttp('standalone', `${proc.baseUrl}/api/v1/events`, { 'x-api-key': API_KEY }, warm, batches, rss);
    progress(`standalone: waiting for the read models to reach position ${result.maxPosition}`);
    const catchUp = await waitForReadModels(proc.baseUrl, result.maxPosition);
    const memory = rss.stop();
    progress(
      catchUp.ok
        ? `  read models caught up ${(catchUp.ms / 1000).toFixed(2)} s after the last 202`
        : `  read models did not catch up: ${catchUp.detail}`,
    );
    const failed = errors > 0 || !catchUp.ok || result.maxPosition === 0;
    if (result.maxPosition === 0) progress('  no 202 reported a position');
    return {
      row: { name: 'standalone HTTP', events: result.events, elapsedMs: result.elapsedMs, latenciesMs: result.latenciesMs, peakRssBytes: memory.peakBytes, errors },
      catchUp: catchUp.ok ? `${(catchUp.ms / 1000).toFixed(2)} s to position ${result.maxPosition}` : `FAILED: ${catchUp.detail}`,
      failed,
    };
  } finally {
    if (child) await killHard(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Starts the bare server (bench/support/ingest-bare-server.ts) as its own process. */
async function spawnBareServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--swc', join(__dirname, 'support', 'ingest-bare-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`bare server did not start:\n${output}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bare server exited with ${code}:\n${output}`));
    });
  });
  return { child, port };
}

async function benchBareHttp(warm: readonly IngestBatch[], batches: readonly IngestBatch[]): Promise<Row> {
  const { child, port } = await spawnBareServer();
  try {
    const pid = child.pid;
    if (pid === undefined) throw new Error('bare server has no pid');
    const rss = new RssSampler(pid);
    const { result, errors } = await measureHttp('bare HTTP', `http://127.0.0.1:${port}/api/v1/events`, {}, warm, batches, rss);
    return { name: 'bare HTTP (no storage)', events: result.events, elapsedMs: result.elapsedMs, latenciesMs: result.latenciesMs, peakRssBytes: rss.stop().peakBytes, errors };
  } finally {
    await killHard(child);
  }
}

async function benchDirectStore(warm: readonly IngestBatch[], batches: readonly IngestBatch[]): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-ingest-direct-'));
  const store = new SqliteEventStore(join(dir, 'events.sqlite'));
  try {
    // The requests are built up front: this measures the store, not the mapping.
    const warmRequests = warm.map((b) => toAppendRequests(b, TENANT));
    const requests = batches.map((b) => toAppendRequests(b, TENANT));
    progress(`direct store: warm-up, ${WARMUP_EVENTS} events`);
    for (const r of warmRequests) await store.appendMany(r);

    progress(`direct store: ${EVENTS} events, appendMany per batch of ${BATCH}`);
    const latenciesMs: number[] = [];
    let events = 0;
    let lastReport = Date.now();
    const start = process.hrtime.bigint();
    for (const r of requests) {
      const sent = process.hrtime.bigint();
      const results = await store.appendMany(r);
      latenciesMs.push(Number(process.hrtime.bigint() - sent) / 1e6);
      events += results.length;
      if (Date.now() - lastReport >= 2000) {
        lastReport = Date.now();
        progress(`  direct store: ${events}/${EVENTS} events, ${formatRate((events / (Number(process.hrtime.bigint() - start) / 1e6)) * 1000)} events/s`);
      }
    }
    const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    progress(`  direct store: ${events} events in ${(elapsedMs / 1000).toFixed(2)} s = ${formatRate((events / elapsedMs) * 1000)} events/s`);
    return { name: 'direct SqliteEventStore.appendMany', events, elapsedMs, latenciesMs, peakRssBytes: 0, errors: 0 };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '-');
const ratio = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;

async function main(): Promise<void> {
  const started = Date.now();
  // Distinct ids per target and phase: each store sees only new events (a repeat is a duplicate).
  const runId = randomUUID().slice(0, 8);
  const workload = (phase: string) => ({
    warm: makeBatches(`${runId}-${phase}-warm`, WARMUP_EVENTS, BATCH),
    batches: makeBatches(`${runId}-${phase}`, EVENTS, BATCH),
  });

  const standalone = workload('standalone');
  const { row: http, catchUp, failed } = await benchStandalone(standalone.warm, standalone.batches);
  const bare = await benchBareHttp(standalone.warm, standalone.batches);
  const directWorkload = workload('direct');
  const direct = await benchDirectStore(directWorkload.warm, directWorkload.batches);

  const rows = [http, direct, bare];
  process.stdout.write(
    `\nHTTP ingestion, ${EVENTS} events in batches of ${BATCH}, ${CONCURRENCY} clients (after ${WARMUP_EVENTS} warm-up); latency per batch in ms\n\n`,
  );
  process.stdout.write(
    table(
      ['target', 'events/s', 'p50', 'p95', 'p99', 'max', 'peak RSS', 'errors'],
      rows.map((r) => [
        r.name,
        formatRate(rate(r)),
        ms(percentile(r.latenciesMs, 50)),
        ms(percentile(r.latenciesMs, 95)),
        ms(percentile(r.latenciesMs, 99)),
        ms(percentile(r.latenciesMs, 100)),
        r.name === direct.name ? '(in bench)' : formatMiB(r.peakRssBytes),
        String(r.errors),
      ]),
    ) + '\n\n',
  );
  process.stdout.write(`standalone HTTP / direct store:  ${ratio(rate(http), rate(direct))} of the store's events/s\n`);
  process.stdout.write(`standalone HTTP / bare HTTP:     ${ratio(rate(http), rate(bare))} of the HTTP ceiling's events/s\n`);
  process.stdout.write(`read models caught up:           ${catchUp}\n`);
  process.stdout.write(`total run time:                  ${((Date.now() - started) / 1000).toFixed(0)} s\n`);

  if (failed || bare.errors > 0) {
    process.stderr.write('FAILED: some requests were not answered 202, or the read models did not catch up (see above)\n');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
