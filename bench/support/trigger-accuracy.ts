import { CLOUD_EVENT_METADATA_KEY, TRIGGER_CONDITION_KINDS, type CloudEvent, type EventStore, type RecordedEvent, type TriggerConditionKind, type TriggerFired } from '@meridian/domain';
import { IngestEventsService, InMemoryTriggerStateStore, TriggerEngine, type TriggerStateStore } from '@meridian/agents';
import { InMemoryEventStore } from '@meridian/infrastructure/event-store/in-memory-event-store';
import { progress } from './bench-report';
import { referenceFirings, type ReferenceAdvance, type ReferenceEvent, type ReferenceFiring } from './trigger-reference';
import { CountingLogger, defineTriggers, FakeClock, killable } from './trigger-setup';
import { ACCURACY_TRIGGERS, AccuracyWorkload, type EventTiming } from './trigger-workload';

/**
 * The accuracy run: the real `TriggerEngine` over an in-memory event store and state store, driven
 * step by step with an injected clock through a labelled workload, stopped once (and down for a
 * while), killed once (its views of both stores dead, a new engine started on the same stores),
 * then compared with the reference evaluator over the same timeline.
 *
 * Each step: the step's events are ingested (through the ingestion service, as HTTP does), the
 * engine is waited for, then the clock moves to the step's end and the engine ticks. So the clock
 * is only read once the events stored before it were evaluated, and the timeline the reference is
 * given (events in store order, clock readings between them) is exactly what the engine saw.
 */

export interface AccuracyConfig {
  readonly seed: number;
  readonly startMs: number;
  readonly steps: number;
  readonly stepMs: number;
  readonly allowedLatenessMs: number;
  /** Engine A is stopped after this step; steps until `restartAt` are ingested while it is down. */
  readonly stopAfter: number;
  readonly restartAt: number;
  /** Engine B is killed right after this step's events are ingested; C starts at `replaceAt`. */
  readonly killAt: number;
  readonly replaceAt: number;
  readonly commitIntervalMs: number;
}

export interface Mismatch {
  readonly triggerId: string;
  readonly occurrenceKey: string;
  /** The matched events, as `type subject +offset s (timing)`. */
  readonly detail: string;
}

export interface KindAccuracy {
  readonly kind: TriggerConditionKind;
  readonly triggers: number;
  readonly expected: number;
  /** Distinct occurrences recorded by the engine. */
  readonly fired: number;
  readonly truePositives: number;
  /** `trigger.fired` events beyond the first for the same trigger and occurrence key. */
  readonly duplicates: number;
  /** True positives whose matched events differ from the reference's. */
  readonly matchedDiffer: number;
  readonly lateEngine: number;
  readonly lateReference: number;
  readonly falseNegatives: readonly Mismatch[];
  readonly falsePositives: readonly Mismatch[];
  readonly differing: readonly Mismatch[];
}

export interface AccuracyReport {
  readonly kinds: readonly KindAccuracy[];
  readonly events: number;
  readonly timings: Readonly<Record<EventTiming, number>>;
  readonly advances: number;
  /** Events the replacing engine evaluated again from the last commit of the killed one. */
  readonly replayedAfterKill: number;
  /** Firings the killed engine recorded after its last commit: decided again, to be recorded once. */
  readonly firedSinceKilledCommit: number;
  readonly firingEvents: number;
  readonly engineLog: string;
  readonly wallMs: number;
}

const ENGINE_NAME = 'trigger-engine';
const LATE_TOLERANCE_MS = 1000;

function cloudEventOf(event: RecordedEvent): { id: string; time: string | null; subject: string | null } {
  const envelope = event.metadata[CLOUD_EVENT_METADATA_KEY] as { id: string; time?: string | null; subject?: string | null };
  return { id: envelope.id, time: envelope.time ?? null, subject: envelope.subject ?? null };
}

export async function runAccuracy(config: AccuracyConfig): Promise<AccuracyReport> {
  const started = performance.now();
  const clock = new FakeClock(config.startMs);
  const store = new InMemoryEventStore({ now: () => new Date(clock.now) });
  const states = new InMemoryTriggerStateStore();
  const logger = new CountingLogger();
  const ingestion = new IngestEventsService(store);
  const workload = new AccuracyWorkload({ seed: config.seed, startMs: config.startMs, stepMs: config.stepMs, allowedLatenessMs: config.allowedLatenessMs });
  const advances: ReferenceAdvance[] = [];
  const triggers = ACCURACY_TRIGGERS;
  const definedAt = new Date(config.startMs).toISOString();

  const newEngine = (engineStore: EventStore, engineStates: TriggerStateStore, engineLogger: CountingLogger) =>
    new TriggerEngine({
      store: engineStore,
      states: engineStates,
      clock: clock.read,
      allowedLatenessMs: config.allowedLatenessMs,
      lateToleranceMs: LATE_TOLERANCE_MS,
      // The benchmark ticks; the engine's own timer would read the clock at moments it does not control.
      tickMs: 0,
      // Commits every so often (wall time), so the kill loses the states of the last steps and the
      // new engine has to replay them.
      commitIntervalMs: config.commitIntervalMs,
      maxHops: 10,
      name: ENGINE_NAME,
      logger: engineLogger,
    });

  let ingested = 0;
  const ingest = async (events: readonly { id: string; type: string; subject: string; time: string; data: Record<string, unknown> }[]) => {
    if (events.length === 0) return;
    const cloudEvents: CloudEvent[] = events.map((event) => ({ specversion: '1.0', source: 'bench', ...event }));
    ingested += events.length;
    await ingestion.ingest(cloudEvents, { tenantId: 'default', actor: { kind: 'api-key', id: 'bench' }, requestId: `step-${ingested}`, receivedAt: new Date(clock.now).toISOString() });
  };
  const settle = async (engine: TriggerEngine) => engine.waitUntilProcessed(await store.headPosition(), 60_000);
  const tickAt = async (engine: TriggerEngine, now: number) => {
    await settle(engine);
    clock.now = now;
    advances.push({ afterPosition: await store.headPosition(), now });
    await engine.tick();
  };
  const step = async (engine: TriggerEngine | null, index: number) => {
    await ingest(workload.eventsOfStep(index));
    if (engine !== null) await tickAt(engine, workload.stepTime(index));
    else clock.now = workload.stepTime(index);
  };

  await defineTriggers(store, triggers, definedAt);
  await ingest(workload.initialEvents());

  // Engine A: from the start until a graceful stop.
  const a = newEngine(store, states, logger);
  await a.start();
  await tickAt(a, config.startMs);
  for (let index = 1; index <= config.stopAfter; index += 1) {
    await step(a, index);
    if (index % 300 === 0) progress(`  accuracy: step ${index}/${config.steps}, ${ingested} events, engine A`);
  }
  await a.stop();
  progress(`  accuracy: engine A stopped after step ${config.stopAfter}; ${config.restartAt - config.stopAfter - 1} steps of events arrive while it is down`);
  for (let index = config.stopAfter + 1; index < config.restartAt; index += 1) await step(null, index);

  // Engine B: restarted on the same stores, then killed.
  const storeB = killable(store);
  const statesB = killable<TriggerStateStore>(states);
  // Its own log: after the kill, its failures to reach the stores are the point.
  const loggerB = new CountingLogger();
  const b = newEngine(storeB.view, statesB.view, loggerB);
  await b.start();
  await tickAt(b, clock.now);
  progress(`  accuracy: engine B started at step ${config.restartAt} and caught up`);
  for (let index = config.restartAt; index < config.killAt; index += 1) {
    await step(b, index);
    if (index % 300 === 0) progress(`  accuracy: step ${index}/${config.steps}, ${ingested} events, engine B`);
  }
  // Killed while its last events may still be in flight: nothing it does afterwards reaches a store.
  await ingest(workload.eventsOfStep(config.killAt));
  storeB.kill();
  statesB.kill();
  clock.now = workload.stepTime(config.killAt);
  const logOfB = loggerB.summary();
  const committed = (await states.load(ENGINE_NAME)).position;
  const headAtKill = await store.headPosition();
  const replayed = (await store.readAll({ after: committed, filter: { streamPrefixes: ['default/entity-'] } })).filter((event) => event.position <= headAtKill).length;
  // Recorded by B after its last commit: C decides them again and must not record them twice.
  const firedSinceCommit = (await store.readAll({ after: committed, filter: { types: ['trigger.fired'] } })).length;
  progress(
    `  accuracy: engine B killed at step ${config.killAt}: ${replayed} events and ${firedSinceCommit} firings since its last commit (position ${committed}); ` +
      `${config.replaceAt - config.killAt - 1} steps arrive while nothing runs`,
  );
  for (let index = config.killAt + 1; index < config.replaceAt; index += 1) await step(null, index);

  // Engine C: a new process on the same stores, from B's last commit.
  const c = newEngine(store, states, logger);
  await c.start();
  await tickAt(c, clock.now);
  progress(`  accuracy: engine C started at step ${config.replaceAt}, replayed from position ${committed}`);
  for (let index = config.replaceAt; index <= config.steps; index += 1) {
    await step(c, index);
    if (index % 300 === 0) progress(`  accuracy: step ${index}/${config.steps}, ${ingested} events, engine C`);
  }
  await c.stop();
  // The killed engine's subscription still runs on the real store underneath; end it.
  await b.stop().catch(() => undefined);

  progress(`  accuracy: ${ingested} events, ${advances.length} clock readings; computing the reference`);
  const stored = await store.readAll({ filter: { streamPrefixes: ['default/entity-'] } });
  const cloudIds = new Map<string, string>();
  const events: ReferenceEvent[] = stored.map((event) => {
    const envelope = cloudEventOf(event);
    cloudIds.set(event.eventId, envelope.id);
    return { eventId: event.eventId, position: event.position, type: event.type, subject: envelope.subject, time: Date.parse(envelope.time ?? event.recordedAt), data: (event.data ?? {}) as Record<string, unknown> };
  });
  const byId = new Map(events.map((event) => [event.eventId, event]));
  const describe = (ids: readonly string[]) =>
    ids
      .map((id) => {
        const event = byId.get(id);
        if (event === undefined) return id;
        return `${event.type} ${event.subject} +${((event.time - config.startMs) / 1000).toFixed(3)}s @${event.position} (${workload.timings.get(cloudIds.get(id) ?? '') ?? '?'})`;
      })
      .join(', ');

  const fired = (await store.readAll({ filter: { types: ['trigger.fired'] } })) as RecordedEvent<'trigger.fired', TriggerFired['data']>[];
  const firedBy = new Map<string, RecordedEvent<'trigger.fired', TriggerFired['data']>[]>();
  for (const event of fired) firedBy.set(event.data.triggerId, [...(firedBy.get(event.data.triggerId) ?? []), event]);

  const kinds: KindAccuracy[] = [];
  for (const kind of TRIGGER_CONDITION_KINDS) {
    const ofKind = triggers.filter((trigger) => trigger.condition.kind === kind);
    const totals = { expected: 0, fired: 0, truePositives: 0, duplicates: 0, matchedDiffer: 0, lateEngine: 0, lateReference: 0 };
    const falseNegatives: Mismatch[] = [];
    const falsePositives: Mismatch[] = [];
    const differing: Mismatch[] = [];
    for (const trigger of ofKind) {
      const reference = referenceFirings(trigger, events, advances, { allowedLatenessMs: config.allowedLatenessMs, lateToleranceMs: LATE_TOLERANCE_MS, since: config.startMs });
      const expected = new Map<string, ReferenceFiring>(reference.firings.map((firing) => [firing.occurrenceKey, firing]));
      const recorded = new Map<string, readonly string[]>();
      for (const event of firedBy.get(trigger.id) ?? []) {
        if (recorded.has(event.data.occurrenceKey)) totals.duplicates += 1;
        else recorded.set(event.data.occurrenceKey, event.data.matchedEvents.map((matched) => matched.eventId));
      }
      totals.expected += expected.size;
      totals.fired += recorded.size;
      for (const [key, firing] of expected) {
        const matched = recorded.get(key);
        if (matched === undefined) {
          falseNegatives.push({ triggerId: trigger.id, occurrenceKey: key, detail: describe(firing.matched) });
          continue;
        }
        totals.truePositives += 1;
        if (matched.join() !== firing.matched.join()) {
          totals.matchedDiffer += 1;
          differing.push({ triggerId: trigger.id, occurrenceKey: key, detail: `engine: ${describe(matched)} | reference: ${describe(firing.matched)}` });
        }
      }
      for (const [key, matched] of recorded) if (!expected.has(key)) falsePositives.push({ triggerId: trigger.id, occurrenceKey: key, detail: describe(matched) });
      totals.lateReference += reference.lateEvents;
      totals.lateEngine += (await states.find('default', trigger.id))?.stats.lateEvents ?? 0;
    }
    kinds.push({ kind, triggers: ofKind.length, ...totals, falseNegatives, falsePositives, differing });
  }

  const timings: Record<EventTiming, number> = { 'in-order': 0, 'out-of-order': 0, 'beyond-lateness': 0, 'slow-producer': 0 };
  for (const timing of workload.timings.values()) timings[timing] += 1;
  return {
    kinds,
    events: events.length,
    timings,
    advances: advances.length,
    replayedAfterKill: replayed,
    firedSinceKilledCommit: firedSinceCommit,
    firingEvents: fired.length,
    engineLog: [logger.summary() && `engines A and C: ${logger.summary()}`, logOfB && `engine B before its kill: ${logOfB}`].filter(Boolean).join('; '),
    wallMs: performance.now() - started,
  };
}
