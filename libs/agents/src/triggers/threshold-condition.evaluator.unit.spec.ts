import type { ThresholdTriggerCondition, TriggerScope } from '@meridian/domain';
import type { TriggerEvent } from './condition-evaluator';
import { keyedEntries } from './keyed-json-map';
import { thresholdConditionEvaluator } from './threshold-condition.evaluator';
import { events, idsOf, keysOf, minutes, nOf, randomEvents, run, seconds, seededRandom, T0, triggerEvent, type Step } from './window-condition.fixture';

const failedLogins = (overrides: Partial<ThresholdTriggerCondition> = {}): ThresholdTriggerCondition => ({
  kind: 'threshold',
  match: { type: 'login.failed' },
  count: 3,
  within: 'PT1M',
  per: 'subject',
  ...overrides,
});

const idsIn = (steps: readonly Step[]) => steps.map((step) => ('event' in step ? step.event.eventId : ''));

describe('threshold condition', () => {
  it('given count 3 within a minute, when the third matching event arrives within it, then it fires with the three events, keyed by the third', () => {
    const evaluator = thresholdConditionEvaluator(failedLogins(), { allowedLatenessMs: 0 });
    const steps = events(
      { type: 'login.failed', subject: 'user-1', at: T0 },
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(20) },
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(40) },
    );

    const { firings } = run(evaluator, steps);

    const ids = idsIn(steps);
    expect(firings).toHaveLength(1);
    expect(firings[0]).toMatchObject({ occurrenceKey: `threshold:user-1:${ids[2]}`, subject: 'user-1', at: T0 + seconds(40), late: false });
    expect(idsOf(firings[0]?.matched ?? [])).toEqual(ids);
  });

  it('given non-matching events in between, when they arrive, then they are not counted and leave the state as it was', () => {
    const evaluator = thresholdConditionEvaluator(failedLogins({ match: { type: 'login.failed', filter: { '==': [{ var: 'data.reason' }, 'password'] } } }), {
      allowedLatenessMs: 0,
    });
    const counted = run(evaluator, events({ type: 'login.failed', subject: 'user-1', at: T0, data: { reason: 'password' } }));

    const ignored = run(
      evaluator,
      events(
        { type: 'login.succeeded', subject: 'user-1', at: T0 + 1 },
        { type: 'login.failed', subject: 'user-1', at: T0 + 2, data: { reason: 'captcha' } },
        { type: 'login.failed', subject: 'user-1', at: T0 + 3, data: { reason: 'captcha' } },
      ),
      { state: counted.state },
    );

    expect(ignored.firings).toEqual([]);
    expect(ignored.state).toBe(counted.state);
  });

  it('given per subject, when events of different subjects add up to the count, then nothing fires; given global, then it fires with no subject', () => {
    const specs = [
      { type: 'login.failed', subject: 'user-1', at: T0 },
      { type: 'login.failed', subject: 'user-2', at: T0 + 1 },
      { type: 'login.failed', subject: 'user-1', at: T0 + 2 },
    ];

    const perSubject = run(thresholdConditionEvaluator(failedLogins(), { allowedLatenessMs: 0 }), events(...specs));
    const globalSteps = events(...specs);
    const global = run(thresholdConditionEvaluator(failedLogins({ per: 'global' }), { allowedLatenessMs: 0 }), globalSteps);

    expect(perSubject.firings).toEqual([]);
    expect(global.firings).toHaveLength(1);
    expect(global.firings[0]).toMatchObject({ occurrenceKey: `threshold:global:${idsIn(globalSteps)[2]}`, subject: null });
  });

  it('given per subject, when an event has no subject, then it belongs to no window; global counts it', () => {
    const specs = [
      { type: 'login.failed', subject: null, at: T0 },
      { type: 'login.failed', subject: null, at: T0 + 1 },
      { type: 'login.failed', subject: null, at: T0 + 2 },
    ];

    expect(run(thresholdConditionEvaluator(failedLogins(), { allowedLatenessMs: 0 }), events(...specs)).firings).toEqual([]);
    expect(run(thresholdConditionEvaluator(failedLogins({ per: 'global' }), { allowedLatenessMs: 0 }), events(...specs)).firings).toHaveLength(1);
  });

  it('given events spanning exactly the window, when the last arrives, then it fires; a millisecond more and it does not', () => {
    const at = (...offsets: number[]) => events(...offsets.map((offset) => ({ type: 'login.failed', subject: 'user-1', at: T0 + offset })));

    const exactly = run(thresholdConditionEvaluator(failedLogins(), { allowedLatenessMs: 0 }), at(0, seconds(30), minutes(1)));
    const beyond = run(thresholdConditionEvaluator(failedLogins(), { allowedLatenessMs: 0 }), at(0, seconds(30), minutes(1) + 1));

    expect(exactly.firings).toHaveLength(1);
    expect(beyond.firings).toEqual([]);
  });

  it('given the window slides, when old events fall out of it, then the count is over the last minute only', () => {
    const steps = events(
      { type: 'login.failed', subject: 'user-1', at: T0 },
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(50) },
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(70) }, // the first is 70 s old: 2 in the window
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(100) }, // 50, 70, 100: 3 within 60 s
    );

    const { firings } = run(thresholdConditionEvaluator(failedLogins(), { allowedLatenessMs: 0 }), steps);

    const ids = idsIn(steps);
    expect(keysOf(firings)).toEqual([`threshold:user-1:${ids[3]}`]);
    expect(idsOf(firings[0]?.matched ?? [])).toEqual(ids.slice(1));
  });

  it('given a burst of seven with count 3, when it arrives, then it fires once per three new events: on the 3rd and the 6th', () => {
    const steps = events(...Array.from({ length: 7 }, (_, index) => ({ type: 'login.failed', subject: 'user-1', at: T0 + seconds(index) })));

    const { firings } = run(thresholdConditionEvaluator(failedLogins(), { allowedLatenessMs: 0 }), steps);

    const ids = idsIn(steps);
    expect(keysOf(firings)).toEqual([`threshold:user-1:${ids[2]}`, `threshold:user-1:${ids[5]}`]);
    expect(idsOf(firings[1]?.matched ?? [])).toEqual(ids.slice(3, 6));
  });

  it('given an allowed lateness, when an out-of-order event completes a window, then it is placed by its time and fires', () => {
    const condition = failedLogins({ count: 2, within: 'PT10S' });
    const steps = events(
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(100) },
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(70) }, // 30 s out of order, within the lateness, but 30 s from the other
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(95) }, // 5 s before the first
    );

    const { firings, late } = run(thresholdConditionEvaluator(condition, { allowedLatenessMs: seconds(30) }), steps);

    const ids = idsIn(steps);
    expect(late).toEqual([]);
    expect(firings).toHaveLength(1);
    expect(firings[0]).toMatchObject({ occurrenceKey: `threshold:user-1:${ids[2]}`, at: T0 + seconds(95) });
    expect(idsOf(firings[0]?.matched ?? [])).toEqual([ids[2], ids[0]]);
  });

  it('given an event later than the allowed lateness, when it arrives, then it is reported late and not counted', () => {
    const condition = failedLogins({ count: 2 });
    const steps = events(
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(100) },
      { type: 'login.failed', subject: 'user-2', at: T0 + seconds(200) }, // the watermark is now 195 s
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(150) }, // would make 2 within a minute, but is late
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(196) }, // 100 s and 196 s are not within a minute
    );

    const { firings, late } = run(thresholdConditionEvaluator(condition, { allowedLatenessMs: seconds(5) }), steps);

    expect(idsOf(late)).toEqual([idsIn(steps)[2]]);
    expect(firings).toEqual([]);
  });

  it('given a window already consumed, when an out-of-order event lands in it, then it needs count new events again', () => {
    const condition = failedLogins({ count: 2 });
    const steps = events(
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(10) },
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(20) }, // fires
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(15) }, // within lateness, but its window was consumed
      { type: 'login.failed', subject: 'user-1', at: T0 + seconds(25) }, // 15 and 25: a new pair
    );

    const { firings } = run(thresholdConditionEvaluator(condition, { allowedLatenessMs: minutes(1) }), steps);

    const ids = idsIn(steps);
    expect(keysOf(firings)).toEqual([`threshold:user-1:${ids[1]}`, `threshold:user-1:${ids[3]}`]);
    expect(idsOf(firings[1]?.matched ?? [])).toEqual([ids[2], ids[3]]);
  });

  it('given thousands of subjects over time, when events keep coming, then the state holds only what a window can still use', () => {
    const evaluator = thresholdConditionEvaluator(failedLogins({ count: 5, within: 'PT10S' }), { allowedLatenessMs: seconds(5) });
    let state = evaluator.initialState();
    let largest = 0;
    for (let index = 0; index < 5_000; index += 1) {
      const event = triggerEvent({ type: 'login.failed', subject: `user-${index}`, at: T0 + seconds(index) });
      state = evaluator.onEvent(state, event).state;
      largest = Math.max(largest, state.windows.size);
    }

    // One event a second, kept for within + lateness (15 s), swept every 15 s: at most about 30 keys.
    expect(largest).toBeLessThanOrEqual(31);
    const held = [...keyedEntries(state.windows)].flatMap(([, entries]) => entries);
    expect(held.every((entry) => entry.at >= T0 + seconds(4_999 - 30))).toBe(true);
  });

  it('given subjects named like object internals, when counted, then each is its own window', () => {
    const evaluator = thresholdConditionEvaluator(failedLogins({ count: 2 }), { allowedLatenessMs: 0 });
    const specs = ['__proto__', 'constructor', 'toString', '__proto__'].map((subject, index) => ({ type: 'login.failed', subject, at: T0 + index }));

    const { firings, state } = run(evaluator, events(...specs));

    expect(firings.map((firing) => firing.subject)).toEqual(['__proto__']);
    expect(state.windows.size).toBe(2);
    expect(Object.getPrototypeOf(JSON.parse(JSON.stringify(state)).windows)).toBe(Object.prototype);
  });

  it('given no deadline is involved, when time passes, then nothing changes and there is no next deadline', () => {
    const evaluator = thresholdConditionEvaluator(failedLogins(), { allowedLatenessMs: 0 });
    const { state } = run(evaluator, events({ type: 'login.failed', subject: 'user-1', at: T0 }));

    expect(evaluator.nextDeadline(state)).toBeNull();
    expect(evaluator.onTime(state, T0 + minutes(10))).toEqual({ state, firings: [], late: [] });
  });

  describe('against a brute-force reference over ordered events', () => {
    /** Every event in order; a firing when the unconsumed matching events of its key in the last `within` reach the count. */
    function reference(stream: readonly TriggerEvent[], count: number, withinMs: number, per: TriggerScope): string[] {
      const keys: string[] = [];
      const consumed = new Set<string>();
      stream.forEach((event, index) => {
        const key = per === 'global' ? 'global' : event.view.subject;
        const counts = (other: TriggerEvent) => other.view.type === 'hit' && nOf(other) > 0 && (per === 'global' || other.view.subject === key);
        if (key === null || !counts(event)) return;
        const window = stream
          .slice(0, index + 1)
          .filter((other) => counts(other) && !consumed.has(other.eventId) && other.eventTime >= event.eventTime - withinMs);
        if (window.length < count) return;
        keys.push(`threshold:${key}:${event.eventId}`);
        for (const other of window) consumed.add(other.eventId);
      });
      return keys;
    }

    it.each([
      [1, 'subject'],
      [2, 'global'],
      [3, 'subject'],
      [5, 'global'],
    ] as const)('given random ordered events and count %i per %s, when evaluated, then the firings are the reference ones', (count, per) => {
      let fired = 0;
      for (let seed = 1; seed <= 25; seed += 1) {
        const random = seededRandom(seed * 31 + count);
        const stream = randomEvents(random, { types: ['hit', 'miss'], subjects: ['a', 'b', 'c'], length: 300, maxGapMs: 400 });
        const condition = failedLogins({ match: { type: 'hit', filter: { '>': [{ var: 'data.n' }, 0] } }, count, within: 'PT2S', per });

        const { firings, late } = run(thresholdConditionEvaluator(condition, { allowedLatenessMs: 0 }), stream.map((event) => ({ event })));

        expect({ seed, keys: keysOf(firings) }).toEqual({ seed, keys: reference(stream, count, 2_000, per) });
        expect(late).toEqual([]);
        fired += firings.length;
      }
      // The workloads must exercise firing, not only its absence.
      expect(fired).toBeGreaterThan(25);
    });
  });
});
