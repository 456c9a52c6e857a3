import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IngestEventsService } from '@meridian/agents';
import type { CloudEvent, EventStore, RecordedEvent } from '@meridian/domain';
import { Column, Entity, PrimaryColumn, type EntityManager, type ObjectLiteral } from 'typeorm';
import { createTestSchema, describePostgres } from '../../../../../test/support/services';
import { PostgresEventStore } from '../../event-store/postgres-event-store';
import { SqliteEventStore } from '../../event-store/sqlite-event-store';
import { projectionVersionColumn, tenantColumn } from '../column-types';
import type { Projection } from '../engine/projection';
import { openReadModelDatabase, type ReadModelDatabase } from '../read-model-data-source';
import type { PinoLikeLogger } from '../read-model-logger';

/**
 * Shared by the read-model integration specs: real event stores and real read-model databases
 * (a temp SQLite file, or a fresh PostgreSQL schema), CloudEvents ingested the way the ingestion
 * service stores them, and projection wrappers that fail or hold on demand.
 */

/** Test-only read model: counts events per tenant with a read-modify-write, so applying a batch twice shows. */
@Entity({ name: 'rm_test_event_counts' })
export class EventCountRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @Column({ name: 'count', type: 'integer' })
  count!: number;
}

export const TEST_ENTITIES: Array<new () => ObjectLiteral> = [EventCountRecord];

export class CountingProjection implements Projection {
  readonly version = 1;
  readonly filter = {};
  readonly tables = [EventCountRecord];

  constructor(readonly name = 'event-counts') {}

  async apply(events: readonly RecordedEvent[], manager: EntityManager, targetVersion: number): Promise<void> {
    const repository = manager.getRepository(EventCountRecord);
    for (const event of events) {
      const tenantId = event.metadata.tenantId;
      const row = await repository.findOne({ where: { projectionVersion: targetVersion, tenantId } });
      if (row) await repository.update({ projectionVersion: targetVersion, tenantId }, { count: row.count + 1 });
      else await repository.insert({ projectionVersion: targetVersion, tenantId, count: 1 });
    }
  }
}

export interface ReadModelTestEnvironment {
  readonly store: EventStore;
  readonly database: ReadModelDatabase;
  /** Another, empty read-model database on the same backend (a reference projector's). */
  openAnotherDatabase(): Promise<ReadModelDatabase>;
  /** A second connection to `database` (another process's view of it). */
  reopenDatabase(): Promise<ReadModelDatabase>;
  close(): Promise<void>;
}

export interface ReadModelTestBackend {
  readonly name: 'sqlite' | 'postgres';
  readonly describe: typeof describe;
  open(): Promise<ReadModelTestEnvironment>;
}

const storeTuning = { retryInitialDelayMs: 20, retryMaxDelayMs: 200, pollIntervalMs: 200 };

async function openSqlite(): Promise<ReadModelTestEnvironment> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-read-models-'));
  const store = new SqliteEventStore(join(dir, 'events.sqlite'), storeTuning);
  const databases: ReadModelDatabase[] = [];
  const open = async (file: string) => {
    const database = await openReadModelDatabase({ type: 'sqlite', path: join(dir, file) }, { additionalEntities: TEST_ENTITIES });
    databases.push(database);
    return database;
  };
  let extra = 0;
  const database = await open('read-models.sqlite');
  return {
    store,
    database,
    openAnotherDatabase: () => open(`reference-${++extra}.sqlite`),
    reopenDatabase: () => open('read-models.sqlite'),
    close: async () => {
      await store.close();
      for (const db of databases.reverse()) await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgres(): Promise<ReadModelTestEnvironment> {
  const schemas = [await createTestSchema('rm')];
  const main = schemas[0];
  const store = await PostgresEventStore.connect(main.url, { schema: main.schema, ...storeTuning });
  const databases: ReadModelDatabase[] = [];
  const open = async (schema: string) => {
    const database = await openReadModelDatabase({ type: 'postgres', url: main.url, schema }, { additionalEntities: TEST_ENTITIES, poolSize: 5 });
    databases.push(database);
    return database;
  };
  const database = await open(main.schema);
  return {
    store,
    database,
    openAnotherDatabase: async () => {
      const schema = await createTestSchema('rm_ref');
      schemas.push(schema);
      return open(schema.schema);
    },
    reopenDatabase: () => open(main.schema),
    close: async () => {
      await store.close();
      for (const db of databases.reverse()) await db.close();
      for (const schema of schemas) await schema.drop();
    },
  };
}

export const readModelBackends: readonly ReadModelTestBackend[] = [
  { name: 'sqlite', describe, open: openSqlite },
  { name: 'postgres', describe: describePostgres(), open: openPostgres },
];

let counter = 0;

/** A CloudEvent with a unique id. */
export function cloudEvent(type: string, subject: string | undefined, data: unknown, extra: Partial<CloudEvent> = {}): CloudEvent {
  counter += 1;
  return {
    specversion: '1.0',
    id: `evt-${process.pid}-${counter}`,
    source: 'urn:test:orders',
    type,
    ...(subject !== undefined ? { subject } : {}),
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, counter % 60, counter)).toISOString(),
    data,
    ...extra,
  };
}

/** Ingests through the real ingestion service (the stored shape the projections read); returns the last position. */
export async function ingest(store: EventStore, events: readonly CloudEvent[], tenantId = 'default'): Promise<number> {
  const result = await new IngestEventsService(store).ingest(events, {
    tenantId,
    actor: { kind: 'api-key', id: 'test' },
    requestId: 'req-test',
    receivedAt: '2026-01-01T00:00:00.000Z',
  });
  return result.position;
}

/** `count` order events spread over `subjects` subjects, with nested data and deletes (null). */
export function orderEvents(count: number, subjects = 7): CloudEvent[] {
  const events: CloudEvent[] = [];
  for (let i = 0; i < count; i++) {
    const subject = `order-${i % subjects}`;
    const kind = i % 4;
    if (kind === 0) events.push(cloudEvent('order.placed', subject, { status: 'placed', total: i, customer: { id: `c${i % 3}`, tier: 'gold' } }));
    else if (kind === 1) events.push(cloudEvent('order.paid', subject, { status: 'paid', payment: { method: 'card', amount: i } }));
    else if (kind === 2) events.push(cloudEvent('order.shipped', subject, { status: 'shipped', customer: { tier: null }, carrier: `carrier-${i % 2}` }));
    else events.push(cloudEvent('inventory.checked', undefined, { sku: `sku-${i}`, level: i }));
  }
  return events;
}

export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A pino-like logger that records entries and lets a test wait for one (instead of sleeping). */
export class CapturingLogger implements PinoLikeLogger {
  readonly entries: LogEntry[] = [];
  private readonly waiters: Array<{ match: (entry: LogEntry) => boolean; resolve: (entry: LogEntry) => void }> = [];

  info(fields: object, message?: string): void {
    this.record('info', fields, message);
  }

  warn(fields: object, message?: string): void {
    this.record('warn', fields, message);
  }

  error(fields: object, message?: string): void {
    this.record('error', fields, message);
  }

  /** Resolves with the first entry (already logged or future) that matches. */
  waitFor(message: string, fields: Readonly<Record<string, unknown>> = {}): Promise<LogEntry> {
    const match = (entry: LogEntry) => entry.message === message && Object.entries(fields).every(([key, value]) => entry.fields[key] === value);
    const found = this.entries.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  messages(level?: LogEntry['level']): string[] {
    return this.entries.filter((entry) => !level || entry.level === level).map((entry) => entry.message);
  }

  private record(level: LogEntry['level'], fields: object, message?: string): void {
    const entry: LogEntry = { level, message: message ?? '', fields: fields as Record<string, unknown> };
    this.entries.push(entry);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(entry)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(entry);
      }
    }
  }
}

/** Wraps a projection: `apply` writes its rows, then throws when the batch holds `failAt` (while `failing`). */
export class FailingProjection implements Projection {
  failing = true;
  readonly name: string;
  readonly version: number;
  readonly filter;
  readonly tables;

  constructor(
    private readonly inner: Projection,
    private readonly failAt: number,
  ) {
    this.name = inner.name;
    this.version = inner.version;
    this.filter = inner.filter;
    this.tables = inner.tables;
  }

  async apply(events: readonly RecordedEvent[], manager: EntityManager, targetVersion: number): Promise<void> {
    await this.inner.apply(events, manager, targetVersion);
    if (this.failing && events.some((event) => event.position === this.failAt)) throw new Error(`injected failure at position ${this.failAt}`);
  }
}

/**
 * Wraps a projection: a batch of a version other than 1 that reaches past `holdAfter` waits (inside
 * its transaction) until `release()`. Lets a test look at the system mid-rebuild.
 */
export class HoldingProjection implements Projection {
  readonly name: string;
  readonly version: number;
  readonly filter;
  readonly tables;
  readonly held: Promise<void>;
  private markHeld!: () => void;
  private releaseGate!: () => void;
  private readonly gate: Promise<void>;

  constructor(
    private readonly inner: Projection,
    private readonly holdAfter: number,
    version?: number,
  ) {
    this.name = inner.name;
    this.version = version ?? inner.version;
    this.filter = inner.filter;
    this.tables = inner.tables;
    this.held = new Promise((resolve) => (this.markHeld = resolve));
    this.gate = new Promise((resolve) => (this.releaseGate = resolve));
  }

  release(): void {
    this.releaseGate();
  }

  async apply(events: readonly RecordedEvent[], manager: EntityManager, targetVersion: number): Promise<void> {
    if (targetVersion !== 1 && events[events.length - 1].position > this.holdAfter) {
      this.markHeld();
      await this.gate;
    }
    await this.inner.apply(events, manager, targetVersion);
  }
}
