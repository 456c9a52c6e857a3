/**
 * Projection rebuild rate (DESIGN.md §9: rebuild at least 10× the live ingest rate).
 *
 *   npx ts-node --swc -r tsconfig-paths/register bench/projection-rebuild.bench.ts
 *   BENCH_EVENTS=200000 BENCH_SUBJECTS=5000 npx ts-node --swc -r tsconfig-paths/register bench/projection-rebuild.bench.ts
 *
 * BENCH_EVENTS CloudEvents (default 100k) are ingested into a SQLite event store through the real
 * ingestion service (batches of 1000, the live ingest rate of the store), then the `events` and
 * `entities` projections are built into a SQLite read-model file, then rebuilt (versioned rebuild,
 * N+1 beside N, then switch) — both at once, then each alone. Peers in the same run: reading the
 * whole store (what any subscriber can get at best) and raw batched INSERTs of the same rows into a
 * bare table (what the read-model database can take at best). Progress lines are the projection
 * manager's own, on stderr.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { IngestEventsService } from '@meridian/agents';
import type { CloudEvent } from '@meridian/domain';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import {
  EntitiesProjection,
  EventsProjection,
  openReadModelDatabase,
  ProjectionManager,
  type PinoLikeLogger,
  type Projection,
  type ReadModelDatabase,
} from '@meridian/infrastructure/read-models';
import { elapsedMs, formatRate, progress, table } from './support/bench-report';

const EVENTS = positiveInt(process.env.BENCH_EVENTS, 100_000);
const SUBJECTS = positiveInt(process.env.BENCH_SUBJECTS, 2_000);
const INGEST_BATCH = 1_000;

function positiveInt(value: string | undefined, fallback: number): number {
  const parsed = value === undefined ? NaN : Number(value);
  return Number.isSafeInteger(parsed) && parsed > 0 ? parsed : fallback;
}

/** Forwards the manager's log lines to stderr and lets the benchmark wait for one. */
class BenchLogger implements PinoLikeLogger {
  private readonly waiters: Array<{ message: string; fields: Record<string, unknown>; resolve: () => void }> = [];

  info(fields: object, message?: string): void {
    this.write('info', fields, message);
  }

  warn(fields: object, message?: string): void {
    this.write('warn', fields, message);
  }

  error(fields: object, message?: string): void {
    this.write('error', fields, message);
  }

  waitFor(message: string, fields: Record<string, unknown>): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ message, fields, resolve }));
  }

  private write(level: string, fields: object, message = ''): void {
    const record = fields as Record<string, unknown>;
    if (message === 'projection rebuild progress' || message.startsWith('projection switched') || message === 'projection version dropped' || level !== 'info') {
      const { stack: _stack, ...shown } = record;
      progress(`${level} ${message} ${JSON.stringify(shown)}`);
    }
    for (const waiter of [...this.waiters]) {
      if (waiter.message === message && Object.entries(waiter.fields).every(([key, value]) => record[key] === value)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }
}

function orderEvent(i: number): CloudEvent {
  const subject = `order-${i % SUBJECTS}`;
  const kinds = ['order.placed', 'order.paid', 'order.packed', 'order.shipped'];
  return {
    specversion: '1.0',
    id: `bench-${i}`,
    source: 'urn:bench:orders',
    type: kinds[i % kinds.length],
    subject,
    time: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
    data: { step: i % kinds.length, amount: i % 997, customer: { id: `c-${i % 313}`, tier: i % 5 === 0 ? 'gold' : 'standard' }, note: 'x'.repeat(40) },
  };
}

interface Row {
  readonly phase: string;
  readonly events: number;
  readonly seconds: number;
  readonly rate: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-rebuild-'));
  const store = new SqliteEventStore(join(dir, 'events.sqlite'));
  const rows: Row[] = [];
  let database: ReadModelDatabase | null = null;
  let manager: ProjectionManager | null = null;
  try {
    // 1. Ingest through the ingestion service: the live ingest rate of the store.
    progress(`ingesting ${EVENTS} events over ${SUBJECTS} subjects`);
    const ingestion = new IngestEventsService(store);
    const ingestStart = process.hrtime.bigint();
    for (let start = 0; start < EVENTS; start += INGEST_BATCH) {
      const batch = Array.from({ length: Math.min(INGEST_BATCH, EVENTS - start) }, (_, k) => orderEvent(start + k));
      await ingestion.ingest(batch, { tenantId: 'default', actor: { kind: 'system', id: 'bench' }, requestId: 'bench', receivedAt: new Date().toISOString() });
      if ((start / INGEST_BATCH) % 20 === 0) progress(`ingested ${start + batch.length}`);
    }
    const ingestMs = elapsedMs(ingestStart);
    rows.push({ phase: 'ingest (service → SQLite store, batches of 1000)', events: EVENTS, seconds: ingestMs / 1000, rate: (EVENTS * 1000) / ingestMs });
    const head = await store.headPosition();

    // 2. Peer: read the whole store in subscription-sized batches.
    const readStart = process.hrtime.bigint();
    for (let after = 0; ; ) {
      const batch = await store.readAll({ after, limit: 2_000 });
      if (batch.length === 0) break;
      after = batch[batch.length - 1].position;
    }
    const readMs = elapsedMs(readStart);
    rows.push({ phase: 'peer: read the whole store', events: EVENTS, seconds: readMs / 1000, rate: (EVENTS * 1000) / readMs });

    // 3. Peer: raw batched INSERTs of rm_events-shaped rows into a bare SQLite table.
    const raw = new Database(join(dir, 'raw.sqlite'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.exec(
      'create table events (version integer, position integer, tenant_id text, event_id text, ce_id text, source text, type text, subject text, time text, data text, recorded_at text, primary key (version, position))',
    );
    raw.exec('create index ix_type on events (version, tenant_id, type, position)');
    raw.exec('create index ix_subject on events (version, tenant_id, subject, position)');
    const insert = raw.prepare('insert into events values (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const insertBatch = raw.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const event = orderEvent(i);
        insert.run(i + 1, 'default', `stored-${i}`, event.id, event.source, event.type, event.subject ?? null, event.time ?? null, JSON.stringify(event.data), event.time ?? '');
      }
    });
    const rawStart = process.hrtime.bigint();
    for (let start = 0; start < EVENTS; start += 2_000) insertBatch(start, Math.min(EVENTS, start + 2_000));
    const rawMs = elapsedMs(rawStart);
    raw.close();
    rows.push({ phase: 'peer: raw batched INSERTs (bare table, same indexes)', events: EVENTS, seconds: rawMs / 1000, rate: (EVENTS * 1000) / rawMs });

    // 4. First build, then versioned rebuilds.
    const logger = new BenchLogger();
    database = await openReadModelDatabase({ type: 'sqlite', path: join(dir, 'read-models.sqlite') });
    const projections: Projection[] = [new EventsProjection(), new EntitiesProjection()];
    manager = new ProjectionManager({
      store,
      dataSource: database.writer,
      readDataSource: database.reader,
      projections,
      logger,
      batchSize: 2_000,
      rebuildBatchSize: positiveInt(process.env.BENCH_BATCH, 5_000),
      pollIntervalMs: 250,
      progressLogIntervalMs: 1_000,
    });
    progress('first build (both projections from position 0, as a new projector would)');
    const buildStart = process.hrtime.bigint();
    await manager.start();
    await manager.waitForPosition(head, { timeoutMs: 3_600_000 });
    const buildMs = elapsedMs(buildStart);
    rows.push({ phase: 'first build: events + entities together', events: EVENTS, seconds: buildMs / 1000, rate: (EVENTS * 1000) / buildMs });

    const rebuild = async (names: readonly string[], label: string) => {
      progress(`rebuild: ${label}`);
      const start = process.hrtime.bigint();
      const switched = names.map((name) => logger.waitFor('projection switched to rebuilt version', { projection: name }));
      const dropped: Array<Promise<void>> = [];
      for (const name of names) {
        const { targetVersion } = await (manager as ProjectionManager).rebuild(name);
        dropped.push(logger.waitFor('projection version dropped', { projection: name, version: targetVersion - 1 }));
      }
      await Promise.all(switched);
      const ms = elapsedMs(start);
      rows.push({ phase: `rebuild: ${label}`, events: EVENTS, seconds: ms / 1000, rate: (EVENTS * 1000) / ms });
      // The old version is dropped in the background after the switch; let it finish before the next phase.
      await Promise.all(dropped);
      const dropMs = elapsedMs(start) - ms;
      progress(`old versions dropped ${(dropMs / 1000).toFixed(2)} s after the switch`);
    };
    await rebuild(['events', 'entities'], 'events + entities together');
    await rebuild(['events'], 'events alone');
    await rebuild(['entities'], 'entities alone');
  } finally {
    await manager?.stop();
    await database?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const ingestRate = rows[0].rate;
  const rawRate = rows[2].rate;
  process.stdout.write(`\nProjection rebuild rate: ${EVENTS} ingested events, ${SUBJECTS} subjects, SQLite store and SQLite read models\n\n`);
  process.stdout.write(
    `${table(
      ['phase', 'events', 'seconds', 'events/s', '× ingest', '× raw insert'],
      rows.map((row) => [row.phase, String(row.events), row.seconds.toFixed(2), formatRate(row.rate), (row.rate / ingestRate).toFixed(1), (row.rate / rawRate).toFixed(2)]),
    )}\n`,
  );
  const together = rows.find((row) => row.phase === 'rebuild: events + entities together');
  if (together) {
    const ratio = together.rate / ingestRate;
    process.stdout.write(`\nRebuild of events + entities runs at ${ratio.toFixed(1)}× the store's ingest rate (target ≥ 10×): ${ratio >= 10 ? 'met' : 'missed'}.\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
