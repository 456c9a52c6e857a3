import type { AbsenceTriggerCondition, TriggerScope } from '@meridian/domain';
import { absenceConditionEvaluator } from './absence-condition.evaluator';
import type { TriggerEvent } from './condition-evaluator';
import { events, idsOf, keysOf, minutes, nOf, randomEvents, run, seconds, seededRandom, T0, triggerEvent, type Step } from './window-condition.fixture';

const unshipped = (overrides: Partial<AbsenceTriggerCondition> = {}): AbsenceTriggerCondition => ({
  kind: 'absence',
  first: { type: 'order.placed' },
  then: { type: 'order.shipped' },
  within: 'PT2M',
  per: 'subject',
  ...overrides,
});

const idsIn = (steps: readonly Step[]) => steps.map((step) => ('event' in step ? step.event.eventId : ''));
const at = (type: string, offsetMs: number, subject = 'order-1') => ({ type, subject, at: T0 + offsetMs });

describe('absence condition', () => {
  it('given an order placed and never shipped, when the clock reaches the deadline, then it fires once, at the deadline, with the placed event', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0 });
    const steps = events(at('order.placed', 0));
    const { state } = run(evaluator, steps);

    const early = evaluator.onTime(state, T0 + minutes(2) - 1);
    const due = evaluator.onTime(early.state, T0 + minutes(2));
    const again = evaluator.onTime(due.state, T0 + minutes(5));

    expect(evaluator.nextDeadline(state)).toBe(T0 + minutes(2));
    expect(early.firings).toEqual([]);
    expect(due.firings).toHaveLength(1);
    expect(due.firings[0]).toMatchObject({ occurrenceKey: `absence:order-1:${idsIn(steps)[0]}`, subject: 'order-1', at: T0 + minutes(2), late: false });
    expect(idsOf(due.firings[0]?.matched ?? [])).toEqual(idsIn(steps));
    expect(again.firings).toEqual([]);
    expect(evaluator.nextDeadline(due.state)).toBeNull();
  });

  it('given an order placed, when it ships within the window, then the window closes without firing', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0 });

    const { state } = run(evaluator, events(at('order.placed', 0), at('order.shipped', minutes(1))));

    expect(evaluator.nextDeadline(state)).toBeNull();
    expect(evaluator.onTime(state, T0 + minutes(60)).firings).toEqual([]);
  });

  it('given a shipment exactly at the deadline, when it arrives before the clock, then it closes the window; a millisecond later, it does not', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0 });

    const exactly = run(evaluator, [...events(at('order.placed', 0), at('order.shipped', minutes(2))), { now: T0 + minutes(3) }]);
    const beyond = run(evaluator, [...events(at('order.placed', 0), at('order.shipped', minutes(2) + 1)), { now: T0 + minutes(3) }]);

    expect(exactly.firings).toEqual([]);
    expect(beyond.firings).toHaveLength(1);
  });

  it('given events that match neither step, when they arrive, then the state is the same object', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0 });
    const { state } = run(evaluator, events(at('order.placed', 0)));

    const result = run(evaluator, events(at('order.paid', 1), at('order.cancelled', 2)), { state });

    expect(result.state).toBe(state);
  });

  it('given per subject, when another order ships, then this one still fires; given global, then any shipment closes the window', () => {
    const steps: Step[] = [...events(at('order.placed', 0, 'order-1'), at('order.shipped', minutes(1), 'order-2')), { now: T0 + minutes(2) }];

    const perSubject = run(absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0 }), steps);
    const global = run(absenceConditionEvaluator(unshipped({ per: 'global' }), { allowedLatenessMs: 0 }), steps);

    expect(keysOf(perSubject.firings)).toEqual([`absence:order-1:${idsIn(steps)[0]}`]);
    expect(global.firings).toEqual([]);
  });

  it('given global, when nothing follows, then the firing has no subject and a global key', () => {
    const steps: Step[] = [...events(at('heartbeat', 0)), { now: T0 + minutes(2) }];

    const { firings } = run(absenceConditionEvaluator(unshipped({ first: { type: 'heartbeat' }, then: { type: 'ack' }, per: 'global' }), { allowedLatenessMs: 0 }), steps);

    expect(firings).toHaveLength(1);
    expect(firings[0]).toMatchObject({ occurrenceKey: `absence:global:${idsIn(steps)[0]}`, subject: null });
  });

  it('given a shipment before the order was placed, when the window closes, then it still fires: only a following `then` counts', () => {
    const steps: Step[] = [...events(at('order.shipped', 0), at('order.placed', seconds(10))), { now: T0 + minutes(3) }];

    const { firings } = run(absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0 }), steps);

    expect(keysOf(firings)).toEqual([`absence:order-1:${idsIn(steps)[1]}`]);
  });

  it('given a shipment that arrived before its order but follows it by event time, when the order arrives within the lateness, then no window opens', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: minutes(1) });

    const { state, late } = run(evaluator, events(at('order.shipped', seconds(30)), at('order.placed', seconds(10))));

    expect(late).toEqual([]);
    expect(evaluator.nextDeadline(state)).toBeNull();
  });

  it('given a shipment at the same time as the order, when it arrives first or second, then it counts as following it', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0 });

    const shippedFirst = run(evaluator, [...events(at('order.shipped', 0), at('order.placed', 0)), { now: T0 + minutes(5) }]);
    const placedFirst = run(evaluator, [...events(at('order.placed', 0), at('order.shipped', 0)), { now: T0 + minutes(5) }]);

    expect(shippedFirst.firings).toEqual([]);
    expect(placedFirst.firings).toEqual([]);
  });

  it('given an allowed lateness, when the deadline passes, then the window waits for it, and a late shipment within it closes the window', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: seconds(30) });
    const placed = run(evaluator, events(at('order.placed', 0), at('order.placed', seconds(150), 'order-2')));

    const waiting = evaluator.onTime(placed.state, T0 + minutes(2) + seconds(29));
    const shipped = run(evaluator, events(at('order.shipped', minutes(2))), { state: waiting.state });

    expect(evaluator.nextDeadline(placed.state)).toBe(T0 + minutes(2) + seconds(30));
    expect(waiting.firings).toEqual([]);
    expect(shipped.late).toEqual([]);
    expect(evaluator.nextDeadline(shipped.state)).toBe(T0 + seconds(150) + minutes(2) + seconds(30));
  });

  it('given a shipment later than the allowed lateness, when it arrives, then it is reported late and the window still fires', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: seconds(5) });
    const steps: Step[] = [
      ...events(at('order.placed', 0, 'order-1'), at('order.placed', minutes(1), 'order-2'), at('order.shipped', seconds(30), 'order-1')),
      { now: T0 + minutes(2) + seconds(5) },
    ];

    const { firings, late } = run(evaluator, steps);

    const ids = idsIn(steps);
    expect(idsOf(late)).toEqual([ids[2]]);
    expect(keysOf(firings)).toEqual([`absence:order-1:${ids[0]}`]);
  });

  it('given the clock was stopped over the deadline, when it moves on, then the window fires once, marked late only beyond the tolerance', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: seconds(10) });
    const { state } = run(evaluator, events(at('order.placed', 0)));
    const closing = T0 + minutes(2) + seconds(10);

    expect(evaluator.onTime(state, closing).firings[0]?.late).toBe(false);
    expect(evaluator.onTime(state, closing + 1_000).firings[0]?.late).toBe(false);
    expect(evaluator.onTime(state, closing + 1_001).firings[0]?.late).toBe(true);
    const afterRestart = evaluator.onTime(state, closing + minutes(60));
    expect(afterRestart.firings).toEqual([expect.objectContaining({ at: T0 + minutes(2), late: true })]);
    expect(evaluator.onTime(afterRestart.state, closing + minutes(61)).firings).toEqual([]);
  });

  it('given a tolerance of its own, when the window fires past it, then that tolerance decides `late`', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0, lateToleranceMs: minutes(1) });
    const { state } = run(evaluator, events(at('order.placed', 0)));

    expect(evaluator.onTime(state, T0 + minutes(3)).firings[0]?.late).toBe(false);
    expect(evaluator.onTime(state, T0 + minutes(3) + 1).firings[0]?.late).toBe(true);
  });

  it('given the window fired, when the shipment arrives afterwards, then nothing changes', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0 });
    const fired = run(evaluator, [...events(at('order.placed', 0)), { now: T0 + minutes(2) }]);

    const after = run(evaluator, [...events(at('order.shipped', minutes(2))), { now: T0 + minutes(10) }], { state: fired.state });

    expect(fired.firings).toHaveLength(1);
    expect(after.firings).toEqual([]);
    expect(after.late).toEqual([]);
    expect(evaluator.nextDeadline(after.state)).toBeNull();
  });

  it('given the same order placed twice, when one shipment follows both, then each placement had its own window and only the expired one fires', () => {
    const steps: Step[] = [
      ...events(at('order.placed', 0), at('order.placed', seconds(30)), at('order.shipped', seconds(130))),
      { now: T0 + minutes(10) },
    ];

    const { firings } = run(absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0 }), steps);

    // The shipment at 130 s is 10 s past the first window, inside the second.
    expect(keysOf(firings)).toEqual([`absence:order-1:${idsIn(steps)[0]}`]);
  });

  it('given two placements of one order and no shipment, when both deadlines pass, then both fire, in deadline order', () => {
    const steps: Step[] = [...events(at('order.placed', 0), at('order.placed', seconds(30))), { now: T0 + minutes(10) }];

    const { firings } = run(absenceConditionEvaluator(unshipped(), { allowedLatenessMs: 0 }), steps);

    const ids = idsIn(steps);
    expect(keysOf(firings)).toEqual([`absence:order-1:${ids[0]}`, `absence:order-1:${ids[1]}`]);
    expect(firings.map((firing) => firing.at)).toEqual([T0 + minutes(2), T0 + minutes(2) + seconds(30)]);
  });

  it('given open windows of several orders, when time passes step by step, then nextDeadline is always the earliest open one', () => {
    const evaluator = absenceConditionEvaluator(unshipped(), { allowedLatenessMs: seconds(1) });
    const { state } = run(
      evaluator,
      events(at('order.placed', seconds(20), 'order-b'), at('order.placed', seconds(10), 'order-a'), at('order.placed', seconds(30), 'order-c'), at('order.shipped', seconds(40), 'order-a')),
    );

    expect(evaluator.nextDeadline(state)).toBe(T0 + seconds(20) + minutes(2) + seconds(1));
    const first = evaluator.onTime(state, T0 + seconds(141));
    expect(first.firings.map((firing) => firing.subject)).toEqual(['order-b']);
    expect(evaluator.nextDeadline(first.state)).toBe(T0 + seconds(30) + minutes(2) + seconds(1));
    const second = evaluator.onTime(first.state, T0 + seconds(151));
    expect(second.firings.map((firing) => firing.subject)).toEqual(['order-c']);
    expect(evaluator.nextDeadline(second.state)).toBeNull();
  });

  it('given an event that matches both steps, when several arrive, then each closes the windows before it and opens its own', () => {
    const evaluator = absenceConditionEvaluator(unshipped({ first: { type: 'heartbeat' }, then: { type: 'heartbeat' }, within: 'PT1M' }), { allowedLatenessMs: 0 });
    const steps: Step[] = [...events(at('heartbeat', 0), at('heartbeat', seconds(50)), at('heartbeat', seconds(200))), { now: T0 + minutes(10) }];

    const { firings } = run(evaluator, steps);

    // 0 → 50 s: followed. 50 s → 200 s: a gap. 200 s: nothing after it.
    const ids = idsIn(steps);
    expect(keysOf(firings)).toEqual([`absence:order-1:${ids[1]}`, `absence:order-1:${ids[2]}`]);
  });

  it('given thousands of orders shipped in time, when events keep coming, then the state holds nothing for them', () => {
    const evaluator = absenceConditionEvaluator(unshipped({ within: 'PT10S' }), { allowedLatenessMs: seconds(5) });
    let state = evaluator.initialState();
    let largest = 0;
    for (let index = 0; index < 3_000; index += 1) {
      state = evaluator.onEvent(state, triggerEvent({ type: 'order.placed', subject: `order-${index}`, at: T0 + seconds(index) })).state;
      state = evaluator.onEvent(state, triggerEvent({ type: 'order.shipped', subject: `order-${index}`, at: T0 + seconds(index) + 500 })).state;
      largest = Math.max(largest, state.windows.size, state.deadlines.reduce((count, chunk) => count + chunk.length, 0));
    }

    expect(largest).toBeLessThanOrEqual(40);
    expect(evaluator.nextDeadline(state)).toBeNull();
  });

  describe('against a brute-force reference over ordered events', () => {
    /** A `first` fires unless a `then` of its key, anywhere in the stream, is at or after it and by its deadline. */
    function reference(stream: readonly TriggerEvent[], withinMs: number, per: TriggerScope): string[] {
      const keyOf = (event: TriggerEvent) => (per === 'global' ? 'global' : event.view.subject);
      const isFirst = (event: TriggerEvent) => event.view.type === 'a' && nOf(event) >= 1;
      const isThen = (event: TriggerEvent) => event.view.type === 'b';
      return stream
        .filter(isFirst)
        .filter(
          (first) =>
            !stream.some(
              (then) => then !== first && isThen(then) && keyOf(then) === keyOf(first) && then.eventTime >= first.eventTime && then.eventTime <= first.eventTime + withinMs,
            ),
        )
        .sort((a, b) => a.eventTime + withinMs - (b.eventTime + withinMs) || a.position - b.position)
        .map((first) => `absence:${keyOf(first)}:${first.eventId}`);
    }

    it.each([
      ['subject', 0],
      ['global', 0],
      ['subject', 700],
      ['global', 300],
    ] as const)('given random ordered events per %s with lateness %i ms and a clock that follows them, when evaluated, then the firings are the reference ones', (per, lateness) => {
      let fired = 0;
      for (let seed = 1; seed <= 25; seed += 1) {
        const random = seededRandom(seed * 7 + lateness);
        const stream = randomEvents(random, { types: ['a', 'b', 'c'], subjects: ['x', 'y', 'z'], length: 200, maxGapMs: 250 });
        const condition = unshipped({ first: { type: 'a', filter: { '>=': [{ var: 'data.n' }, 1] } }, then: { type: 'b' }, within: 'PT1S', per });
        // The clock ticks just behind the events, as a process caught up with its input would.
        const steps: Step[] = stream.flatMap((event) => (random() < 0.3 ? [{ now: event.eventTime - 1 }, { event }] : [{ event }]));
        steps.push({ now: T0 + minutes(60) });

        const { firings, late } = run(absenceConditionEvaluator(condition, { allowedLatenessMs: lateness }), steps);

        const expected = reference(stream, 1_000, per);
        expect({ seed, keys: [...keysOf(firings)].sort() }).toEqual({ seed, keys: [...expected].sort() });
        expect(late).toEqual([]);
        fired += firings.length;
      }
      expect(fired).toBeGreaterThan(25);
    });
  });
});
