/**
 * The trigger engine's promises under failure and load (README "Triggers: agents that act on their
 * own"): counters exact across crash, replay and in-process recovery; a clock that keeps closing
 * windows while the engine lags behind a continuous stream; a clean stop during recovery.
 *
 * Same harness as trigger-engine.int.spec.ts: a SQLite event store, an injected clock, `tick()`
 * called by the test, `killable` views for a killed process.
 */
import type { EventStore, Subscription, SubscriptionHandler, SubscriptionOptions, TriggerConditionInput } from '@meridian/domain';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import { at, Clock, defineTrigger, firings, ingest, killable, MINUTE, overriding, SECOND, T0 , useTriggerEngineHarness, type EngineOptions } from './trigger-engine.fixture';
import { DEFAULT_TRIGGER_ENGINE_NAME, TriggerEngine } from './trigger-engine';
import type { InMemoryTriggerStateStore, TriggerStateStore } from './trigger-state-store.port';

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Holds each subscription delivery until the test lets one through: an engine that lags behind the store. */
class Gate {
  private tokens = 0;
  private readonly waiting: (() => void)[] = [];
  /** While open, every delivery goes through. */
  open = true;
  release(count = 1): void {
    this.tokens += count;
    while (this.tokens > 0 && this.waiting.length > 0) {
      this.tokens -= 1;
      this.waiting.shift()?.();
    }
  }
  pass(): Promise<void> {
    if (this.open) return Promise.resolve();
    if (this.tokens > 0) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

describe('TriggerEngine under failure and load (SQLite store, injected clock)', () => {
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

  describe('counters exact across restart, crash and replay', () => {
    it('given events that match a trigger\'s type but not its filter, when the engine restarts, then their evaluations are still counted', async () => {
      await defineTrigger(store, 'big-payments', { kind: 'event', match: { type: 'payment.received', filter: { '>=': [{ var: 'data.amount' }, 100] } } });
      const a = engine();
      await a.start();
      await settle(a);
      await ingest(store, [1, 2, 3].map((i) => ({ type: 'payment.received', subject: `p-${i}`, time: at(i * SECOND), data: { amount: 5 } })));
      await settle(a);
      expect(a.triggers.get('default', 'big-payments')?.stats.evaluations).toBe(3);
      await a.stop();

      // The evaluations left the condition's state as it was, so the trigger was never marked
      // changed: the checkpoint moved past them, the counter was not written with it.
      expect((await states.find('default', 'big-payments'))?.stats.evaluations).toBe(3);
      const b = engine();
      await b.start();
      await settle(b);
      expect(b.triggers.get('default', 'big-payments')?.stats.evaluations).toBe(3);
    });

    it('given a window fired on time and the commit lost, when the engine restarts after a late then, then the recorded firing is still counted', async () => {
      await defineTrigger(store, 'unshipped', absence);
      await ingest(store, [{ type: 'order.placed', subject: 'order-1', time: at(0) }]);
      const lost = killable(states);
      const a = engine({ states: lost.view });
      await a.start();
      await settle(a);
      lost.kill();
      clock.now = T0 + 2 * MINUTE + 5.5 * SECOND;
      await a.tick();
      expect((await firings(store, 'unshipped')).map((event) => [event.data.subject, event.data.late])).toEqual([['order-1', false]]);

      // The shipment (event time inside the window, not late for the trigger) is stored after the firing.
      await ingest(store, [{ type: 'order.shipped', subject: 'order-1', time: at(1 * MINUTE + 59 * SECOND) }]);
      const b = engine();
      await b.start();
      await settle(b);
      await b.tick();
      expect(await firings(store, 'unshipped')).toHaveLength(1);
      // The replay feeds the shipment before any tick, so it never decides the firing again and
      // never counts it: one firing recorded, none counted.
      expect(b.triggers.get('default', 'unshipped')?.stats.firings).toBe(1);
    });

    it('given a schedule tick fired on time and the commit lost, when the engine restarts past it, then lateFirings counts only firings recorded late', async () => {
      await defineTrigger(store, 'every-5-min', { kind: 'schedule', cron: '*/5 * * * *' });
      const lost = killable(states);
      const a = engine({ states: lost.view });
      await a.start();
      await settle(a);
      lost.kill();
      clock.now = T0 + 5 * MINUTE + 200;
      await a.tick();

      clock.now = T0 + 9 * MINUTE;
      const b = engine();
      await b.start();
      await settle(b);
      await b.tick();
      const fired = await firings(store, 'every-5-min');
      expect(fired.map((event) => [event.data.firedAt, event.data.late])).toEqual([[at(5 * MINUTE), false]]);
      // The replay decides the 10:05 tick again, now late; it is already recorded (on time), yet
      // it is counted as a late firing.
      expect(b.triggers.get('default', 'every-5-min')?.stats).toEqual(
        expect.objectContaining({ firings: fired.length, lateFirings: fired.filter((event) => event.data.late === true).length }),
      );
    });

    it('given a step that fails once and is recovered in process, then the counters reported to the observer (Prometheus) are not counted twice', async () => {
      let failNextCommit = false;
      const flaky = overriding<TriggerStateStore>(states, {
        commit: async (...args: Parameters<TriggerStateStore['commit']>) => {
          if (failNextCommit) {
            failNextCommit = false;
            throw new Error('database unavailable');
          }
          await states.commit(...args);
        },
      });
      await defineTrigger(store, 'every-order', { kind: 'event', match: { type: 'order.placed' } });
      const counted = new Map<string, number>();
      const running = engine({ states: flaky, counted });
      await running.start();
      await settle(running);

      failNextCommit = true;
      const head = await ingest(store, [1, 2, 3].map((i) => ({ type: 'order.placed', subject: `order-${i}`, time: at(i * SECOND) })));
      // The failed commit puts the engine in recovery; it replays from the last commit.
      await until(async () => (await states.load(DEFAULT_TRIGGER_ENGINE_NAME)).position >= head && running.position >= head);
      await running.waitUntilProcessed(head);

      expect(await firings(store, 'every-order')).toHaveLength(3);
      expect(running.triggers.get('default', 'every-order')?.stats).toEqual(expect.objectContaining({ evaluations: 3, firings: 3 }));
      expect({ evaluations: counted.get('every-order:evaluations'), firings: counted.get('every-order:firings') }).toEqual({ evaluations: 3, firings: 3 });
    });
  });

  describe('time', () => {
    it('given an engine that lags behind a continuous stream of events, when the clock ticks, then windows whose events were all fed still close', async () => {
      await defineTrigger(store, 'unshipped', absence);
      await ingest(store, [{ type: 'order.placed', subject: 'order-1', time: at(0) }]);
      const gate = new Gate();
      const gated = overriding<EventStore>(store, {
        subscribe: (handler: SubscriptionHandler, options?: SubscriptionOptions): Subscription =>
          store.subscribe(
            {
              ...handler,
              onEvents: async (events) => {
                await gate.pass();
                await handler.onEvents(events);
              },
            },
            options,
          ),
      });
      const running = engine({ store: gated, batchSize: 1 });
      await running.start();
      await settle(running);
      const fedBefore = running.position;
      gate.open = false;

      // Continuous load: one event is always waiting when the clock is read. Every event stored
      // before the first tick below is fed by the second iteration.
      await ingest(store, [{ type: 'noise.ping', subject: 'n-0', time: at(10 * MINUTE) }]);
      for (let i = 1; i <= 20; i += 1) {
        await ingest(store, [{ type: 'noise.ping', subject: `n-${i}`, time: at(10 * MINUTE + i * SECOND) }]);
        clock.now = T0 + 10 * MINUTE + i * SECOND;
        await running.tick();
        const before = running.position;
        gate.release(1);
        await until(() => running.position > before);
      }
      const fired = (await firings(store, 'unshipped')).map((event) => event.data.subject);
      gate.open = true;
      gate.release(1000);
      expect(running.position).toBeGreaterThan(fedBefore + 1);
      // Order 1's window closed 8 minutes ago by every clock reading above.
      expect(fired).toEqual(['order-1']);
    });
  });

  describe('stop', () => {
    it('given a stop while the engine is recovering from a failed step, then no subscription is left running', async () => {
      let failNextCommit = false;
      let loadCalled: () => void = () => undefined;
      let releaseLoad: () => void = () => undefined;
      let holdLoad = false;
      const loading = new Promise<void>((resolve) => (loadCalled = resolve));
      const flaky = overriding<TriggerStateStore>(states, {
        commit: async (...args: Parameters<TriggerStateStore['commit']>) => {
          if (failNextCommit) {
            failNextCommit = false;
            throw new Error('database unavailable');
          }
          await states.commit(...args);
        },
        load: async (name: string) => {
          if (holdLoad) {
            holdLoad = false;
            loadCalled();
            await new Promise<void>((resolve) => (releaseLoad = resolve));
          }
          return states.load(name);
        },
      });
      let active = 0;
      const tracked = overriding<EventStore>(store, {
        subscribe: (handler: SubscriptionHandler, options?: SubscriptionOptions): Subscription => {
          const subscription = store.subscribe(handler, options);
          active += 1;
          let stopped = false;
          return {
            stop: async () => {
              if (!stopped) active -= 1;
              stopped = true;
              await subscription.stop();
            },
          };
        },
      });
      await defineTrigger(store, 'every-order', { kind: 'event', match: { type: 'order.placed' } });
      const running = engine({ store: tracked, states: flaky });
      await running.start();
      await settle(running);
      expect(active).toBe(1);

      failNextCommit = true;
      holdLoad = true;
      await ingest(store, [{ type: 'order.placed', subject: 'order-1', time: at(SECOND) }]);
      await loading; // the recovery is reloading the committed states
      const stopping = running.stop();
      await new Promise((resolve) => setTimeout(resolve, 20));
      releaseLoad();
      await stopping;
      expect(active).toBe(0);
    });
  });
});
