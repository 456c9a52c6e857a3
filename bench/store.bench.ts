/**
 * Event store append throughput: each adapter against raw batched INSERTs of the same rows into a
 * plain table with the same columns and indexes in the same database (the limit). Target: adapter
 * within 70% of raw at batch 1000 (DESIGN.md §9).
 *
 *   npm run bench:store                      # BENCH_EVENTS=30000 events per cell, 3 rounds
 *   BENCH_EVENTS=50000 BENCH_ROUNDS=5 npm run bench:store
 *
 * Each batch is one group commit: `appendMany` of <batch> single-event requests to distinct streams
 * (as ingestion does), plus a variant with the whole batch appended to one stream. Rounds alternate
 * adapter and raw so both see the same table growth; the median round is reported. Batch 1 is one
 * commit per event (fsync-bound), so it runs fewer events. PostgreSQL is skipped when unreachable.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client, Pool } from 'pg';
import type { AppendRequest, EventStore, NewEvent } from '@meridian/domain';
import { PostgresEventStore } from '@meridian/infrastructure/event-store/postgres-event-store';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import { elapsedMs, formatRate, median, progress, table } from './support/bench-report';

const EVENTS = positiveInt(process.env.BENCH_EVENTS, 30_000);
const ROUNDS = positiveInt(process.env.BENCH_ROUNDS, 3);
const PG_URL = process.env.MERIDIAN_BENCH_POSTGRES_URL ?? process.env.MERIDIAN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

type Shape = 'distinct streams' | 'one stream';

interface Cell {
  readonly batch: number;
  readonly shape: Shape;
  readonly events: number;
}

const CELLS: readonly Cell[] = [
  { batch: 1, shape: 'distinct streams', events: Math.max(100, Math.round(EVENTS / 15)) },
  { batch: 100, shape: 'distinct streams', events: EVENTS },
  { batch: 1000, shape: 'distinct streams', events: EVENTS },
  { batch: 1000, shape: 'one stream', events: EVENTS },
];

/** One batch: the adapter's requests and the same events as rows (revisions as the adapter will store them). */
interface Batch {
  readonly requests: AppendRequest[];
  readonly rows: ReadonlyArray<{ streamName: string; revision: number; event: NewEvent }>;
}

interface Target {
  readonly name: string;
  readonly store: EventStore;
  /** Inserts the rows in one batched statement/transaction: what the database can do at best. */
  insertRaw(rows: Batch['rows']): Promise<void>;
  close(): Promise<void>;
}

interface Result {
  readonly target: string;
  readonly cell: Cell;
  readonly adapter: number;
  readonly raw: number;
  /** Median of the per-round ratios (each round runs adapter and raw back to back). */
  readonly ratio: number;
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** An ingested order event, sized like the real thing (about 700 bytes of JSON). */
function orderEvent(): NewEvent {
  const eventId = randomUUID();
  const orderId = randomUUID();
  const time = new Date().toISOString();
  return {
    eventId,
    type: 'com.shop.order.placed',
    data: {
      orderId,
      customerId: `cust-${Math.floor(Math.random() * 1e6)}`,
      amount: 129.9,
      currency: 'EUR',
      status: 'placed',
      items: [
        { sku: 'SKU-1001', quantity: 2, unitPrice: 39.95 },
        { sku: 'SKU-2002', quantity: 1, unitPrice: 50 },
      ],
    },
    metadata: {
      occurredAt: time,
      correlationId: eventId,
      causationId: null,
      hop: 0,
      tenantId: 'default',
      actor: { kind: 'api-key', id: 'key-bench' },
      requestId: randomUUID(),
      cloudEvent: {
        id: orderId,
        source: 'https://shop.example.com/orders',
        specversion: '1.0',
        subject: orderId,
        time,
        datacontenttype: 'application/json',
        dataschema: null,
        extensions: {},
      },
    },
  };
}

function makeBatches(cell: Cell): Batch[] {
  const batches: Batch[] = [];
  for (let done = 0; done < cell.events; done += cell.batch) {
    const size = Math.min(cell.batch, cell.events - done);
    const events = Array.from({ length: size }, orderEvent);
    if (cell.shape === 'distinct streams') {
      const rows = events.map((event) => ({ streamName: `default/entity-${randomUUID()}`, revision: 0, event }));
      batches.push({ requests: rows.map((r) => ({ streamName: r.streamName, events: [r.event], expected: 'any' })), rows });
    } else {
      const streamName = `default/entity-${randomUUID()}`;
      batches.push({
        requests: [{ streamName, events, expected: 'no_stream' }],
        rows: events.map((event, revision) => ({ streamName, revision, event })),
      });
    }
  }
  return batches;
}

async function timeRun(label: string, count: number, run: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  const ms = elapsedMs(start);
  const rate = (count / ms) * 1000;
  progress(`  ${label}: ${count} events in ${(ms / 1000).toFixed(2)} s = ${formatRate(rate)} events/s`);
  return rate;
}

async function benchTarget(target: Target): Promise<Result[]> {
  // Warm-up: statement caches, JIT, connection setup.
  const warm = makeBatches({ batch: 100, shape: 'distinct streams', events: 500 });
  for (const b of warm) await target.store.appendMany(b.requests);
  for (const b of makeBatches({ batch: 100, shape: 'distinct streams', events: 500 })) await target.insertRaw(b.rows);

  const results: Result[] = [];
  for (const cell of CELLS) {
    const adapterRates: number[] = [];
    const rawRates: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`[${target.name}] batch ${cell.batch}, ${cell.shape}, round ${round}/${ROUNDS}`);
      const forAdapter = makeBatches(cell);
      adapterRates.push(
        await timeRun('adapter appendMany', cell.events, async () => {
          for (const b of forAdapter) await target.store.appendMany(b.requests);
        }),
      );
      const forRaw = makeBatches(cell);
      rawRates.push(
        await timeRun('raw INSERT      ', cell.events, async () => {
          for (const b of forRaw) await target.insertRaw(b.rows);
        }),
      );
    }
    const ratios = adapterRates.map((a, i) => a / rawRates[i]);
    results.push({ target: target.name, cell, adapter: median(adapterRates), raw: median(rawRates), ratio: median(ratios) });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------------------------

async function sqliteTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-store-'));
  const file = join(dir, 'events.db');
  const store = new SqliteEventStore(file);
  // Same file (so the same page size), same connection settings as the adapter's defaults.
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('cache_size = -32768');
  db.exec(`
    create table raw_events (
      position integer primary key autoincrement,
      stream_name text not null,
      revision integer not null,
      event_id text not null,
      type text not null,
      data text not null,
      metadata text not null,
      schema_version integer not null default 1,
      recorded_at text not null,
      unique (stream_name, revision),
      unique (event_id)
    )`);
  const insert = db.prepare(
    'insert into raw_events (stream_name, revision, event_id, type, data, metadata, schema_version, recorded_at) values (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertAll = db.transaction((rows: Batch['rows']) => {
    const recordedAt = new Date().toISOString();
    for (const r of rows) {
      insert.run(r.streamName, r.revision, r.event.eventId, r.event.type, JSON.stringify(r.event.data), JSON.stringify(r.event.metadata), 1, recordedAt);
    }
  });
  return {
    name: 'sqlite',
    store,
    insertRaw: async (rows) => insertAll.immediate(rows),
    close: async () => {
      db.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

async function postgresReachable(): Promise<string | null> {
  const client = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function postgresTarget(): Promise<Target> {
  const schema = `bench_store_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const store = await PostgresEventStore.connect(PG_URL, { schema });
  const pool = new Pool({ connectionString: PG_URL, max: 1 });
  await pool.query(`
    create table ${schema}.raw_events (
      position bigint generated always as identity primary key,
      stream_name text not null,
      revision integer not null,
      event_id text not null,
      type text not null,
      data json not null,
      metadata json not null,
      schema_version integer not null default 1,
      recorded_at timestamptz not null default now(),
      unique (stream_name, revision),
      unique (event_id)
    )`);
  const sql = `
    insert into ${schema}.raw_events (stream_name, revision, event_id, type, data, metadata, schema_version)
    select stream_name, revision, event_id, type, data::json, metadata::json, schema_version
      from unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[])
        as t(stream_name, revision, event_id, type, data, metadata, schema_version)`;
  return {
    name: 'postgres',
    store,
    // One prepared statement in autocommit: one round trip, one commit, no re-planning: the least
    // a batch can cost.
    insertRaw: async (rows) => {
      await pool.query({ name: 'bench_raw_insert', text: sql, values: [
        rows.map((r) => r.streamName),
        rows.map((r) => r.revision),
        rows.map((r) => r.event.eventId),
        rows.map((r) => r.event.type),
        rows.map((r) => JSON.stringify(r.event.data)),
        rows.map((r) => JSON.stringify(r.event.metadata)),
        rows.map(() => 1),
      ] });
    },
    close: async () => {
      await store.close();
      await pool.query(`drop schema ${schema} cascade`);
      await pool.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  progress(`store benchmark: ${EVENTS} events per cell (batch 1: ${CELLS[0].events}), ${ROUNDS} rounds, median reported`);
  const results: Result[] = [];
  const skipped: string[] = [];

  const targets: Array<() => Promise<Target>> = [sqliteTarget];
  const pgDown = await postgresReachable();
  if (pgDown) {
    skipped.push(`postgres skipped: not reachable at ${PG_URL} (${pgDown})`);
    progress(skipped[skipped.length - 1]);
  } else {
    targets.push(postgresTarget);
  }

  for (const open of targets) {
    const target = await open();
    try {
      results.push(...(await benchTarget(target)));
    } finally {
      await target.close();
    }
  }

  const rows = results.map((r) => [
    r.target,
    String(r.cell.batch),
    r.cell.shape,
    String(r.cell.events),
    formatRate(r.adapter),
    formatRate(r.raw),
    r.ratio.toFixed(2),
  ]);
  process.stdout.write(`\nEvent store append throughput (events/s, median of ${ROUNDS} rounds; ratio = median of per-round adapter/raw)\n\n`);
  process.stdout.write(`${table(['store', 'batch', 'shape', 'events', 'adapter/s', 'raw/s', 'ratio'], rows)}\n`);
  for (const line of skipped) process.stdout.write(`\n${line}\n`);
  const misses = results.filter((r) => r.cell.batch === 1000 && r.ratio < 0.7);
  process.stdout.write(
    misses.length === 0
      ? '\nTarget met: adapter/raw >= 0.70 at batch 1000.\n'
      : `\nTarget missed at batch 1000: ${misses.map((m) => `${m.target} ${m.cell.shape} ${m.ratio.toFixed(2)}`).join(', ')}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
