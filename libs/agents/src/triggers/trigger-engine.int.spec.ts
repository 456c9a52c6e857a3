/**
 * The trigger engine against a real SQLite event store, with a clock the tests move (no test waits
 * for a window) and `tick()` called by the test (the engine's own timer is off).
 *
 * A crash is simulated with a `Killable` view of the store and of the state store: once killed, the
 * engine can neither read, write nor commit — what a killed process leaves behind — and a new
 * engine is started on the same event store and state store.
 */
import type { TriggerConditionInput } from '@meridian/domain';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import { at, Clock, defineTrigger, firings, ingest, killable, MINUTE, SECOND, T0, triggerCommand as command , useTriggerEngineHarness, type EngineOptions } from './trigger-engine.fixture';
import { TriggerEngine, triggerFiringId } from './trigger-engine';
import type { InMemoryTriggerStateStore } from './trigger-state-store.port';

describe('TriggerEngine (SQLite store, injected clock)', () => {
  const harness = useTriggerEngineHarness();
  const engine = (options?: EngineOptions) => harness.engine(options);
  const settle = (target: TriggerEngine) => harness.settle(target);
  let store: SqliteEventStore;
  let states: InMemoryTriggerStateStore;
  let clock: Clock;
  beforeEach(() => {
    ({ store, states, clock } = harness);
  });

  const absence: TriggerConditionInput = { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT2M' };

  it('given orders placed and one shipped, when the window closes, then it fires exactly for the unshipped ones, in their chains', async () => {
    await defineTrigger(store, 'unshipped', absence);
    await ingest(store, [
      { type: 'order.placed', subject: 'order-1', time: at(0) },
      { type: 'order.placed', subject: 'order-2', time: at(1 * SECOND) },
      { type: 'order.placed', subject: 'order-3', time: at(2 * SECOND) },
      { type: 'order.shipped', subject: 'order-2', time: at(1 * MINUTE) },
    ]);
    const running = engine();
    await running.start();
    await settle(running);
    clock.now = T0 + 1 * MINUTE + 30 * SECOND;
    await running.tick();
    expect(await firings(store, 'unshipped')).toHaveLength(0);

    // Each window closes at its deadline plus the allowed lateness (5 s); the clock ticks past each.
    clock.now = T0 + 2 * MINUTE + 5.5 * SECOND;
    await running.tick();
    expect((await firings(store, 'unshipped')).map((event) => event.data.subject)).toEqual(['order-1']);
    clock.now = T0 + 2 * MINUTE + 7.5 * SECOND;
    await running.tick();
    const fired = await firings(store, 'unshipped');
    expect(fired.map((event) => event.data.subject)).toEqual(['order-1', 'order-3']);
    expect(fired.every((event) => event.data.late === false)).toBe(true);
    expect(fired[0].data.matchedEvents).toEqual([expect.objectContaining({ type: 'order.placed', subject: 'order-1', time: at(0) })]);
    expect(fired[0].data.firedAt).toBe(at(2 * MINUTE));
    expect(fired[0].eventId).toBe(triggerFiringId('default', 'unshipped', fired[0].data.occurrenceKey));
    // The firing joins the chain of the order it is about, one hop further.
    const placed = (await store.readAll({ filter: { types: ['order.placed'] } })).find((event) => event.eventId === fired[0].data.matchedEvents[0].eventId);
    expect(fired[0].metadata).toEqual(expect.objectContaining({ correlationId: placed?.metadata.correlationId, causationId: placed?.eventId, hop: (placed?.metadata.hop ?? 0) + 1 }));
    // Recorded firings are counted as the store delivers them back.
    await settle(running);
    expect(running.triggers.get('default', 'unshipped')?.stats).toEqual(expect.objectContaining({ firings: 2, evaluations: 4, lateFirings: 0 }));
  });

  it('given a process killed in the middle of an open window, when a new one starts, then the firings are the same and none is lost or doubled', async () => {
    await defineTrigger(store, 'unshipped', absence);
    const first = killable(store);
    const firstStates = killable(states);
    const a = engine({ store: first.view, states: firstStates.view });
    await a.start();
    await ingest(store, [
      { type: 'order.placed', subject: 'order-1', time: at(0) },
      { type: 'order.placed', subject: 'order-2', time: at(0) },
    ]);
    await settle(a);
    clock.now = T0 + 30 * SECOND;
    await a.tick();
    first.kill();
    firstStates.kill();

    // While it is down: one order ships, another is placed.
    await ingest(store, [
      { type: 'order.shipped', subject: 'order-1', time: at(40 * SECOND) },
      { type: 'order.placed', subject: 'order-4', time: at(50 * SECOND) },
    ]);
    const b = engine();
    await b.start();
    await settle(b);
    clock.now = T0 + 2 * MINUTE + 5.5 * SECOND;
    await b.tick();
    clock.now = T0 + 2 * MINUTE + 55.5 * SECOND;
    await b.tick();
    expect((await firings(store, 'unshipped')).map((event) => [event.data.subject, event.data.late])).toEqual([
      ['order-2', false],
      ['order-4', false],
    ]);
  });

  it('given firings recorded but the commit lost, when a new engine replays, then nothing fires twice', async () => {
    await defineTrigger(store, 'unshipped', absence);
    await ingest(store, [{ type: 'order.placed', subject: 'order-1', time: at(0) }]);
    const lostStates = killable(states);
    const a = engine({ states: lostStates.view });
    await a.start();
    await settle(a);
    lostStates.kill();
    clock.now = T0 + 5 * MINUTE;
    await a.tick();
    expect(await firings(store, 'unshipped')).toHaveLength(1);

    const b = engine();
    await b.start();
    await settle(b);
    await b.tick();
    expect(await firings(store, 'unshipped')).toHaveLength(1);
    // The counters committed before the crash did not include it; the replay counts it, once.
    expect(b.triggers.get('default', 'unshipped')?.stats.firings).toBe(1);
    await b.stop();
    const c = engine();
    await c.start();
    await settle(c);
    await c.tick();
    expect(c.triggers.get('default', 'unshipped')?.stats.firings).toBe(1);
    expect(await firings(store, 'unshipped')).toHaveLength(1);
  });

  it('given a restart that spans a deadline, then the window fires once on start, marked late', async () => {
    await defineTrigger(store, 'unshipped', absence);
    const first = killable(store);
    const a = engine({ store: first.view });
    await a.start();
    await ingest(store, [{ type: 'order.placed', subject: 'order-9', time: at(0) }]);
    await settle(a);
    await a.stop();

    clock.now = T0 + 45 * MINUTE;
    const b = engine();
    await b.start();
    await settle(b);
    await b.tick();
    await b.tick();
    await settle(b);
    const fired = await firings(store, 'unshipped');
    expect(fired.map((event) => [event.data.subject, event.data.late, event.data.firedAt])).toEqual([['order-9', true, at(2 * MINUTE)]]);
    expect(b.triggers.get('default', 'unshipped')?.stats).toEqual(expect.objectContaining({ firings: 1, lateFirings: 1 }));
  });

  it('given a subject too long for an occurrence key, then it still fires once, under a key that hashes it', async () => {
    await defineTrigger(store, 'unshipped', absence);
    const subject = `order-${'x'.repeat(1500)}`;
    await ingest(store, [{ type: 'order.placed', subject, time: at(0) }]);
    const running = engine();
    await running.start();
    await settle(running);
    clock.now = T0 + 3 * MINUTE;
    await running.tick();
    await running.tick();
    const fired = await firings(store, 'unshipped');
    expect(fired.map((event) => event.data.subject)).toEqual([subject]);
    expect(fired[0].data.occurrenceKey.length).toBeLessThanOrEqual(512);
    expect(fired[0].data.occurrenceKey.startsWith(`absence:order-xxx`)).toBe(true);
    await settle(running);
    expect(running.triggers.get('default', 'unshipped')?.stats).toEqual(expect.objectContaining({ firings: 1, refused: 0 }));
  });

  it('given a threshold with a cooldown, then it fires once per burst and suppressions are counted', async () => {
    await defineTrigger(store, 'burst', { kind: 'threshold', match: { type: 'payment.failed' }, count: 3, within: 'PT1M', per: 'global' }, { cooldown: 'PT10M' });
    const counted = new Map<string, number>();
    const running = engine({ counted });
    await running.start();
    const burst = (start: number) => ingest(store, Array.from({ length: 5 }, (_, i) => ({ type: 'payment.failed', subject: `p-${start}-${i}`, time: at(start + i * SECOND) })));
    await burst(0);
    await burst(2 * MINUTE);
    await burst(15 * MINUTE);
    await settle(running);
    const fired = await firings(store, 'burst');
    expect(fired.map((event) => event.data.firedAt)).toEqual([at(2 * SECOND), at(15 * MINUTE + 2 * SECOND)]);
    expect(fired[0].data.matchedEvents).toHaveLength(3);
    expect(running.triggers.get('default', 'burst')?.stats).toEqual(expect.objectContaining({ evaluations: 15, firings: 2, suppressed: 1 }));
    expect(counted.get('burst:firings')).toBe(2);
    expect(counted.get('burst:suppressed')).toBe(1);
    expect(counted.get('burst:evaluations')).toBe(15);
  });

  it('given a schedule, then it fires on its cron by the injected clock, once per occurrence', async () => {
    await defineTrigger(store, 'every-5-min', { kind: 'schedule', cron: '*/5 * * * *', timezone: 'Europe/Paris' });
    const running = engine();
    await running.start();
    await settle(running);
    clock.now = T0 + 4 * MINUTE;
    await running.tick();
    expect(await firings(store, 'every-5-min')).toHaveLength(0);
    clock.now = T0 + 5 * MINUTE + 200;
    await running.tick();
    await running.tick();
    clock.now = T0 + 10 * MINUTE + 300;
    await running.tick();
    const fired = await firings(store, 'every-5-min');
    expect(fired.map((event) => [event.data.firedAt, event.data.late])).toEqual([
      [at(5 * MINUTE), false],
      [at(10 * MINUTE), false],
    ]);
    // A schedule starts a chain of its own.
    expect(fired[0].metadata).toEqual(expect.objectContaining({ correlationId: fired[0].data.firingId, causationId: null, hop: 0 }));
  });

  it('given a state predicate, then it fires when it becomes true, not while it stays true', async () => {
    await defineTrigger(store, 'low-stock', { kind: 'state', subjectType: 'inventory', predicate: { '<': [{ var: 'level' }, 10] } });
    const running = engine();
    await running.start();
    for (const level of [12, 8, 5, 20, 3]) await ingest(store, [{ type: 'inventory.counted', subject: 'inventory-1', time: at(level * SECOND), data: { level } }]);
    await ingest(store, [{ type: 'inventory.counted', subject: 'inventoryItem-1', data: { level: 1 } }]);
    await settle(running);
    const fired = await firings(store, 'low-stock');
    expect(fired.map((event) => event.data.subject)).toEqual(['inventory-1', 'inventory-1']);
    const causes = await store.readAll({ filter: { types: ['inventory.counted'] } });
    expect(fired.map((event) => event.data.matchedEvents[0].eventId)).toEqual([causes[1].eventId, causes[4].eventId]);
  });

  it('given events later than the allowed lateness, then they are counted and reported, not evaluated', async () => {
    await defineTrigger(store, 'burst', { kind: 'threshold', match: { type: 'payment.failed' }, count: 2, within: 'PT1M', per: 'global' });
    const running = engine();
    await running.start();
    await ingest(store, [
      { type: 'payment.failed', subject: 'p-1', time: at(10 * MINUTE) },
      { id: 'very-late', type: 'payment.failed', subject: 'p-0', time: at(10 * MINUTE - 30 * SECOND) },
      { type: 'payment.failed', subject: 'p-2', time: at(10 * MINUTE - 3 * SECOND) },
    ]);
    await settle(running);
    const stats = running.triggers.get('default', 'burst')?.stats;
    expect(stats).toEqual(expect.objectContaining({ lateEvents: 1, evaluations: 3, firings: 1 }));
    expect(stats?.lastLateEvent).toEqual(expect.objectContaining({ type: 'payment.failed', subject: 'p-0', time: at(10 * MINUTE - 30 * SECOND) }));
    expect((await firings(store, 'burst'))[0].data.matchedEvents.map((event) => event.subject)).toEqual(['p-2', 'p-1']);
    // Committed with the checkpoint: a new engine reports the same.
    await running.stop();
    expect((await states.find('default', 'burst'))?.stats.lateEvents).toBe(1);
  });

  it('given a live trigger, when its condition changes, it is disabled, enabled or deleted, then that takes effect at once', async () => {
    await defineTrigger(store, 'unshipped', absence);
    const running = engine();
    await running.start();
    await ingest(store, [{ type: 'order.placed', subject: 'order-1', time: at(0) }]);
    // A new condition starts from nothing: order-1's window is gone, and the trigger says why.
    await command(store, 'unshipped', { type: 'ChangeTrigger', data: { triggerId: 'unshipped', changes: { condition: { ...absence, within: 'PT3M' } } } }, at(10 * SECOND));
    await ingest(store, [{ type: 'order.placed', subject: 'order-2', time: at(20 * SECOND) }]);
    await settle(running);
    expect(running.triggers.get('default', 'unshipped')).toEqual(expect.objectContaining({ stateReason: 'condition-changed', stateSince: at(10 * SECOND), conditionVersion: 2 }));
    clock.now = T0 + 4 * MINUTE;
    await running.tick();
    expect((await firings(store, 'unshipped')).map((event) => event.data.subject)).toEqual(['order-2']);

    // Disabled: not watched. Enabled: fresh from then on.
    await command(store, 'unshipped', { type: 'DisableTrigger', data: { triggerId: 'unshipped' } }, at(5 * MINUTE));
    await ingest(store, [{ type: 'order.placed', subject: 'order-3', time: at(5 * MINUTE + SECOND) }]);
    await command(store, 'unshipped', { type: 'EnableTrigger', data: { triggerId: 'unshipped' } }, at(6 * MINUTE));
    await ingest(store, [{ type: 'order.placed', subject: 'order-4', time: at(6 * MINUTE + SECOND) }]);
    await settle(running);
    clock.now = T0 + 10 * MINUTE;
    await running.tick();
    expect((await firings(store, 'unshipped')).map((event) => event.data.subject)).toEqual(['order-2', 'order-4']);

    await ingest(store, [{ type: 'order.placed', subject: 'order-5', time: at(10 * MINUTE) }]);
    await command(store, 'unshipped', { type: 'DeleteTrigger', data: { triggerId: 'unshipped' } }, at(10 * MINUTE + SECOND));
    await settle(running);
    expect(running.triggers.get('default', 'unshipped')).toBeUndefined();
    clock.now = T0 + 20 * MINUTE;
    await running.tick();
    expect(await firings(store, 'unshipped')).toHaveLength(2);
    await running.stop();
    expect(await states.find('default', 'unshipped')).toBeNull();
  });
});
