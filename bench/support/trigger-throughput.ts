import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  CLOUD_EVENT_METADATA_KEY,
  evolveEntityState,
  streamName,
  type AppendRequest,
  type CloudEventEnvelope,
  type EntityState,
  type EventMetadata,
  type NewEvent,
  type RecordedEvent,
} from '@meridian/domain';
import { InMemoryTriggerStateStore, TriggerEngine, TriggerSet } from '@meridian/agents';
import { InMemoryEventStore } from '@meridian/infrastructure/event-store/in-memory-event-store';
import { elapsedMs } from './bench-report';
import { defineTriggers, definedRecordedEvents, FakeClock } from './trigger-setup';
import { ThroughputEvents, type ThroughputEventShape, type TriggerSpec } from './trigger-workload';

/**
 * Trigger throughput, two ways:
 * - the evaluation core: `TriggerSet` fed stored-event objects built in memory, exactly as the
 *   engine feeds it (lifecycle events applied, the subject's folded state computed when a `state`
 *   trigger needs it, `evaluate` per event, `advance` once per second of event time) — no store,
 *   no recording; event construction is outside the timed part;
 * - the durable `TriggerEngine` end to end over an in-memory event store: events appended in
 *   batches, the engine's subscription evaluating them, firings recorded as `trigger.fired`
 *   events through the trigger aggregate, states and checkpoint committed.
 */

const TENANT = 'default';
const SOURCE = 'https://bench.example.com/triggers';
const ACTOR = { kind: 'api-key', id: 'bench' } as const;
/** Events built (untimed) and then evaluated (timed) at a time. */
const CHUNK = 5000;
/** The core is advanced once per second of event time (the engine ticks every second). */
const ADVANCE_EVERY_MS = 1000;

function metadataOf(shape: ThroughputEventShape, eventId: string, time: string): EventMetadata {
  const envelope: CloudEventEnvelope = {
    id: `tp-${shape.seq}`,
    source: SOURCE,
    specversion: '1.0',
    subject: shape.subject,
    time,
    datacontenttype: null,
    dataschema: null,
    extensions: {},
  };
  return { occurredAt: time, correlationId: eventId, causationId: null, hop: 0, tenantId: TENANT, actor: ACTOR, [CLOUD_EVENT_METADATA_KEY]: envelope };
}

/** What the ingestion service would have stored for the event (stream per subject, envelope in metadata). */
function recordedOf(shape: ThroughputEventShape, position: number): RecordedEvent {
  const time = new Date(shape.time).toISOString();
  const eventId = `tp-event-${shape.seq}`;
  return {
    streamName: streamName('entity', shape.subject, TENANT),
    revision: 0,
    position,
    eventId,
    type: shape.type,
    data: shape.data,
    metadata: metadataOf(shape, eventId, time),
    schemaVersion: 1,
    recordedAt: time,
  };
}

function newEventOf(shape: ThroughputEventShape): NewEvent {
  const time = new Date(shape.time).toISOString();
  const eventId = `tp-event-${shape.seq}`;
  return { eventId, type: shape.type, data: shape.data, metadata: metadataOf(shape, eventId, time) };
}

let collect: (() => void) | null | undefined;

/** A full garbage collection when the runtime lets us ask for one (so heap figures are what is live). */
export function collectGarbage(): boolean {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  if (collect === null) return false;
  collect();
  return true;
}

export interface CoreRun {
  readonly triggers: number;
  readonly events: number;
  /** Time spent in the core (evaluate, advance, entity folds), ms. */
  readonly coreMs: number;
  readonly eventsPerSecond: number;
  readonly usPerEvent: number;
  readonly decidedFirings: number;
  /** Evaluations of an event against a trigger (the index's candidates). */
  readonly evaluations: number;
  readonly lateEvents: number;
  /** Heap still used after the run (collected), above what was used before it: states and folds. */
  readonly heapBytes: number;
  /** Largest heap used seen between chunks (garbage included). */
  readonly peakHeapBytes: number;
  /** The triggers' states as the engine would commit them (JSON). */
  readonly stateBytes: number;
}

export interface CoreOptions {
  readonly specs: readonly TriggerSpec[];
  readonly events: number;
  readonly seed: number;
  readonly startMs: number;
  readonly allowedLatenessMs: number;
  readonly onProgress?: (done: number, coreMs: number) => void;
}

export function runCore(options: CoreOptions): CoreRun {
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  const set = new TriggerSet({ allowedLatenessMs: options.allowedLatenessMs });
  const definitions = definedRecordedEvents(options.specs, new Date(options.startMs).toISOString());
  for (const event of definitions) set.apply(event);
  const source = new ThroughputEvents(options.seed, options.startMs, options.allowedLatenessMs);
  const folded = new Map<string, EntityState>();
  let position = definitions.length;
  let nextAdvance = options.startMs + ADVANCE_EVERY_MS;
  let coreMs = 0;
  let decidedFirings = 0;
  let peakHeapBytes = 0;

  for (let done = 0; done < options.events; ) {
    const size = Math.min(CHUNK, options.events - done);
    const chunk: RecordedEvent[] = new Array<RecordedEvent>(size);
    const clocks = new Float64Array(size);
    for (let i = 0; i < size; i += 1) {
      chunk[i] = recordedOf(source.next(), (position += 1));
      clocks[i] = source.clock;
    }
    const started = process.hrtime.bigint();
    for (let i = 0; i < size; i += 1) {
      const event = chunk[i] as RecordedEvent;
      if (TriggerSet.isLifecycleEvent(event)) {
        set.apply(event);
        continue;
      }
      const needs = set.needsEntity(event);
      let entity: EntityState | undefined;
      if (needs !== null) {
        // What the engine's entity reader does from its cache: fold the subject's new event.
        const envelope = event.metadata[CLOUD_EVENT_METADATA_KEY] as CloudEventEnvelope;
        entity = evolveEntityState(folded.get(needs.subject) ?? null, needs.subject, { type: event.type, data: event.data, time: envelope.time ?? event.recordedAt });
        folded.set(needs.subject, entity);
      }
      decidedFirings += set.evaluate(event, entity).length;
      const now = clocks[i] as number;
      if (now >= nextAdvance) {
        decidedFirings += set.advance(now).length;
        nextAdvance = now + ADVANCE_EVERY_MS;
      }
    }
    coreMs += elapsedMs(started);
    peakHeapBytes = Math.max(peakHeapBytes, process.memoryUsage().heapUsed);
    done += size;
    options.onProgress?.(done, coreMs);
  }

  let evaluations = 0;
  let lateEvents = 0;
  let stateBytes = 0;
  for (const trigger of set.all()) {
    evaluations += trigger.stats.evaluations;
    lateEvents += trigger.stats.lateEvents;
    stateBytes += JSON.stringify(trigger.state ?? null).length;
  }
  collectGarbage();
  const heapBytes = process.memoryUsage().heapUsed - heapBefore;
  // Keep the set and the folds alive until measured.
  if (set.size < 0 || folded.size < 0) throw new Error('unreachable');
  return {
    triggers: options.specs.length,
    events: options.events,
    coreMs,
    eventsPerSecond: options.events / (coreMs / 1000),
    usPerEvent: (coreMs * 1000) / options.events,
    decidedFirings,
    evaluations,
    lateEvents,
    heapBytes,
    peakHeapBytes,
    stateBytes,
  };
}

export interface EngineRun {
  readonly triggers: number;
  readonly events: number;
  /** From the first append until the engine had evaluated the last event and recorded its firings, ms. */
  readonly wallMs: number;
  readonly eventsPerSecond: number;
  /** Of which appending the events to the store, ms. */
  readonly appendMs: number;
  readonly firingsRecorded: number;
  readonly engineErrors: number;
}

export interface EngineOptions {
  readonly specs: readonly TriggerSpec[];
  readonly events: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly startMs: number;
  readonly allowedLatenessMs: number;
  readonly onProgress?: (done: number, wallMs: number) => void;
}

/**
 * The durable engine over an in-memory store: each batch is appended (one request per event,
 * as ingestion does), the engine is waited for, then the clock moves to the batch's event time
 * and the engine ticks, as its timer would.
 */
export async function runEngine(options: EngineOptions): Promise<EngineRun> {
  const clock = new FakeClock(options.startMs);
  const store = new InMemoryEventStore({ now: () => new Date(clock.now) });
  await defineTriggers(store, options.specs, new Date(options.startMs).toISOString());
  let engineErrors = 0;
  const engine = new TriggerEngine({
    store,
    states: new InMemoryTriggerStateStore(),
    clock: clock.read,
    allowedLatenessMs: options.allowedLatenessMs,
    tickMs: 0,
    maxHops: 10,
    logger: { info: () => undefined, warn: () => undefined, error: () => void (engineErrors += 1) },
  });
  await engine.start();
  await engine.waitUntilProcessed(await store.headPosition(), 60_000);

  const source = new ThroughputEvents(options.seed, options.startMs, options.allowedLatenessMs);
  const batches: { requests: AppendRequest[]; clock: number }[] = [];
  for (let done = 0; done < options.events; done += options.batchSize) {
    const size = Math.min(options.batchSize, options.events - done);
    const requests: AppendRequest[] = [];
    for (let i = 0; i < size; i += 1) {
      const shape = source.next();
      requests.push({ streamName: streamName('entity', shape.subject, TENANT), events: [newEventOf(shape)], expected: 'any' });
    }
    batches.push({ requests, clock: source.clock });
  }

  const started = process.hrtime.bigint();
  let appendMs = 0;
  let done = 0;
  for (const batch of batches) {
    const appending = process.hrtime.bigint();
    const results = await store.appendMany(batch.requests);
    appendMs += elapsedMs(appending);
    await engine.waitUntilProcessed(Math.max(...results.map((result) => result.position)), 120_000);
    clock.now = batch.clock;
    await engine.tick();
    done += batch.requests.length;
    options.onProgress?.(done, elapsedMs(started));
  }
  await engine.waitUntilProcessed(await store.headPosition(), 120_000);
  const wallMs = elapsedMs(started);
  await engine.stop();
  const firingsRecorded = (await store.readAll({ filter: { types: ['trigger.fired'] } })).length;
  await store.close();
  return {
    triggers: options.specs.length,
    events: options.events,
    wallMs,
    eventsPerSecond: options.events / (wallMs / 1000),
    appendMs,
    firingsRecorded,
    engineErrors,
  };
}
