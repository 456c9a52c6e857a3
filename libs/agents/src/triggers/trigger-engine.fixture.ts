/**
 * The harness of the trigger engine's specs: a clock the tests move, views of a store that die
 * with a killed process or misbehave on cue, trigger commands through the real decider, ingestion
 * of CloudEvents, and the firings read back from the trigger streams.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  streamName,
  triggerDecider,
  type CloudEvent,
  type EventStore,
  type RecordedEvent,
  type TriggerActionKind,
  type TriggerCommand,
  type TriggerConditionInput,
  type TriggerEvent,
  type TriggerFired,
} from '@meridian/domain';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import { IngestEventsService } from '../ingestion/ingest-events.service';
import { TriggerEngine, type TriggerCounter } from './trigger-engine';
import { InMemoryTriggerStateStore, type TriggerStateStore } from './trigger-state-store.port';

export const T0 = Date.parse('2026-03-02T10:00:00.000Z');
export const at = (offsetMs: number) => new Date(T0 + offsetMs).toISOString();
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;

/** The engine's only source of "now", moved by the test (or benchmark). */
export class Clock {
  constructor(public now: number = T0) {}
  readonly read = (): number => this.now;
}

/** Everything a killed process can no longer do: once killed, every method throws. */
export function killable<T extends object>(target: T): { view: T; kill: () => void } {
  let dead = false;
  const view = new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (dead) throw new Error('process killed');
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
  return { view, kill: () => (dead = true) };
}

/** `target` with some of its methods replaced (the others bound to it). */
export function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (Object.prototype.hasOwnProperty.call(overrides, property)) return (overrides as Record<string | symbol, unknown>)[property];
      const value: unknown = Reflect.get(object, property);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(object) : value;
    },
  });
}

let commandCounter = 0;

/** Runs a trigger command through the decider and appends its events as a user would cause them. */
export async function triggerCommand(store: EventStore, triggerId: string, cmd: TriggerCommand, occurredAt: string): Promise<void> {
  const stream = streamName('trigger', triggerId);
  const recorded = await store.readStream(stream);
  const state = recorded.reduce((folded, event) => triggerDecider.evolve(folded, { type: event.type, data: event.data } as TriggerEvent), triggerDecider.initialState());
  const events = triggerDecider.decide(cmd, state, { now: occurredAt, actor: { kind: 'user', id: 'ops' }, tenantId: 'default', correlationId: 'setup', newId: () => `id-${++commandCounter}` });
  await store.append(
    stream,
    events.map((event) => ({
      eventId: `trigger-command-${++commandCounter}`,
      type: event.type,
      data: event.data,
      metadata: { occurredAt, correlationId: `setup-${commandCounter}`, causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'user', id: 'ops' } },
    })),
    { expected: recorded.length === 0 ? 'no_stream' : recorded.length - 1 },
  );
}

/** Defines a trigger owned by `agent-1` that wakes it (the action does not matter to the engine). */
export const defineTrigger = (store: EventStore, triggerId: string, condition: TriggerConditionInput, options: { cooldown?: string; action?: TriggerActionKind; at?: string } = {}) =>
  triggerCommand(
    store,
    triggerId,
    {
      type: 'DefineTrigger',
      data: {
        triggerId,
        name: triggerId,
        agentId: 'agent-1',
        condition,
        action: { kind: 'wake-agent', task: 'Order {{subject}} has not shipped' },
        ...(options.cooldown !== undefined && { cooldown: options.cooldown }),
      },
    },
    options.at ?? at(0),
  );

let ingested = 0;

export type TestCloudEvent = Omit<CloudEvent, 'specversion' | 'source' | 'id'> & { id?: string };

/** Ingests CloudEvents (source `shop`, ids generated unless given) as the gateway would. */
export async function ingest(store: EventStore, events: readonly TestCloudEvent[]): Promise<number> {
  const service = new IngestEventsService(store);
  const result = await service.ingest(
    events.map((event) => ({ specversion: '1.0', source: 'shop', id: event.id ?? `e-${++ingested}`, ...event })),
    { tenantId: 'default', actor: { kind: 'api-key', id: 'k' }, requestId: `r-${ingested}`, receivedAt: new Date().toISOString() },
  );
  return result.position;
}

export type RecordedFiring = RecordedEvent & { data: TriggerFired['data'] };

export async function firings(store: EventStore, triggerId: string): Promise<RecordedFiring[]> {
  const events = await store.readStream(streamName('trigger', triggerId));
  return events.filter((event) => event.type === 'trigger.fired') as RecordedFiring[];
}

export interface EngineOptions {
  readonly store?: EventStore;
  readonly states?: TriggerStateStore;
  /** Counters the engine reports, by `<triggerId>:<counter>`. */
  readonly counted?: Map<string, number>;
  readonly batchSize?: number;
}

export interface TriggerEngineHarness {
  readonly store: SqliteEventStore;
  readonly states: InMemoryTriggerStateStore;
  readonly clock: Clock;
  /** An engine on the harness's store and states (unless given others), ticked by the test only. */
  engine(options?: EngineOptions): TriggerEngine;
  /** Until the engine has seen everything in the store, its own firings included. */
  settle(engine: TriggerEngine): Promise<void>;
}

/**
 * A fresh SQLite event store, in-memory state store and clock for each test of the enclosing
 * `describe`; every engine made is stopped after the test.
 */
export function useTriggerEngineHarness(): TriggerEngineHarness {
  let dir = '';
  let current: { store: SqliteEventStore; states: InMemoryTriggerStateStore; clock: Clock } | null = null;
  const engines: TriggerEngine[] = [];
  const get = () => {
    if (current === null) throw new Error('the harness is only usable inside a test');
    return current;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-trigger-engine-'));
    current = { store: new SqliteEventStore(join(dir, 'events.sqlite'), { pollIntervalMs: 20 }), states: new InMemoryTriggerStateStore(), clock: new Clock() };
  });

  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.stop().catch(() => undefined);
    await current?.store.close();
    current = null;
    rmSync(dir, { recursive: true, force: true });
  });

  return {
    get store() {
      return get().store;
    },
    get states() {
      return get().states;
    },
    get clock() {
      return get().clock;
    },
    engine(options = {}) {
      const { store, states, clock } = get();
      const counted = options.counted;
      const engine = new TriggerEngine({
        store: options.store ?? store,
        states: options.states ?? states,
        clock: clock.read,
        allowedLatenessMs: 5 * SECOND,
        tickMs: 0,
        commitIntervalMs: 0,
        maxHops: 10,
        ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
        ...(counted !== undefined && {
          observer: { counted: (trigger, counter: TriggerCounter, amount) => counted.set(`${trigger.triggerId}:${counter}`, (counted.get(`${trigger.triggerId}:${counter}`) ?? 0) + amount) },
        }),
      });
      engines.push(engine);
      return engine;
    },
    async settle(engine) {
      const { store } = get();
      for (let head = await store.headPosition(); ; ) {
        await engine.waitUntilProcessed(head);
        const now = await store.headPosition();
        if (now === head) return;
        head = now;
      }
    },
  };
}
