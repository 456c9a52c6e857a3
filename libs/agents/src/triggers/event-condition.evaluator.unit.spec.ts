import type { EventTriggerCondition } from '@meridian/domain';
import { eventConditionEvaluator } from './event-condition.evaluator';
import type { TriggerMatchError } from './window-evaluation';
import { events, idsOf, keysOf, nOf, randomEvents, run, seconds, seededRandom, T0, triggerEvent } from './window-condition.fixture';

const bigOrders: EventTriggerCondition = {
  kind: 'event',
  match: { type: 'order.placed', filter: { '>': [{ var: 'data.total' }, 100] } },
};

describe('event condition', () => {
  it('given a matching event, when fed, then it fires once with the event, its subject and time, keyed by its id', () => {
    const evaluator = eventConditionEvaluator(bigOrders, { allowedLatenessMs: 0 });
    const event = triggerEvent({ type: 'order.placed', subject: 'order-7', at: T0, data: { total: 150 } });

    const result = evaluator.onEvent(evaluator.initialState(), event);

    expect(result.firings).toEqual([
      {
        occurrenceKey: `event:${event.eventId}`,
        subject: 'order-7',
        matched: [{ eventId: event.eventId, position: event.position, type: 'order.placed', subject: 'order-7', time: new Date(T0).toISOString() }],
        at: T0,
        late: false,
      },
    ]);
    expect(result.late).toEqual([]);
  });

  it('given events of another type or failing the filter, when fed, then nothing fires and the state is the same object', () => {
    const evaluator = eventConditionEvaluator(bigOrders, { allowedLatenessMs: 0 });
    const state = evaluator.initialState();

    for (const event of [
      triggerEvent({ type: 'order.shipped', at: T0, data: { total: 500 } }),
      triggerEvent({ type: 'order.placed', at: T0, data: { total: 50 } }),
      triggerEvent({ type: 'order.placedX', at: T0, data: { total: 500 } }),
    ]) {
      const result = evaluator.onEvent(state, event);
      expect(result).toEqual({ state, firings: [], late: [] });
      expect(result.state).toBe(state);
    }
  });

  it('given a prefix type, when events of the family arrive, then each of them fires and others do not', () => {
    const evaluator = eventConditionEvaluator({ kind: 'event', match: { type: 'order.*' } }, { allowedLatenessMs: 0 });

    const { firings } = run(evaluator, events({ type: 'order.placed', at: T0 }, { type: 'payment.failed', at: T0 }, { type: 'order.shipped', at: T0 }, { type: 'order', at: T0 }));

    expect(firings.map((firing) => firing.matched[0]?.type)).toEqual(['order.placed', 'order.shipped']);
  });

  it('given an allowed lateness, when an event arrives out of order within it, then it fires; beyond it, it is reported late and does not fire', () => {
    const evaluator = eventConditionEvaluator({ kind: 'event', match: { type: 'ping' } }, { allowedLatenessMs: seconds(5) });
    const steps = events(
      { type: 'ping', at: T0 + seconds(10) },
      { type: 'ping', at: T0 + seconds(5) }, // exactly at the watermark
      { type: 'ping', at: T0 + seconds(5) - 1 }, // just behind it
    );

    const { firings, late } = run(evaluator, steps);

    const [newest, atWatermark, behind] = steps.map((step) => ('event' in step ? step.event.eventId : ''));
    expect(keysOf(firings)).toEqual([`event:${newest}`, `event:${atWatermark}`]);
    expect(firings.map((firing) => firing.at)).toEqual([T0 + seconds(10), T0 + seconds(5)]);
    expect(idsOf(late)).toEqual([behind]);
    expect(late[0]?.time).toBe(new Date(T0 + seconds(5) - 1).toISOString());
  });

  it('given the same events fed to a fresh evaluator, when evaluated again, then the occurrence keys are the same', () => {
    const steps = events({ type: 'order.placed', at: T0, data: { total: 101 } }, { type: 'order.placed', at: T0 + 1, data: { total: 999 } });

    const first = run(eventConditionEvaluator(bigOrders, { allowedLatenessMs: 0 }), steps);
    const second = run(eventConditionEvaluator(bigOrders, { allowedLatenessMs: 0 }), steps);

    expect(keysOf(first.firings)).toHaveLength(2);
    expect(keysOf(second.firings)).toEqual(keysOf(first.firings));
  });

  it('given a filter that fails on an event, when fed, then it does not match and the failure is reported with the event', () => {
    const errors: TriggerMatchError[] = [];
    const evaluator = eventConditionEvaluator(
      { kind: 'event', match: { type: 'order.placed', filter: { var: 'data.total' } } },
      { allowedLatenessMs: 0, onMatchError: (error) => errors.push(error) },
    );
    const event = triggerEvent({ type: 'order.placed', at: T0, data: { total: 5 } });

    const result = evaluator.onEvent(evaluator.initialState(), event);

    expect(result.firings).toEqual([]);
    expect(errors).toEqual([
      expect.objectContaining({ path: 'condition.match', phase: 'evaluate', reason: 'non-boolean', event: { eventId: event.eventId, type: 'order.placed' } }),
    ]);
  });

  it('given a filter that cannot be compiled, when the evaluator is made, then it is reported once and the condition never matches', () => {
    const errors: TriggerMatchError[] = [];
    const evaluator = eventConditionEvaluator(
      { kind: 'event', match: { type: 'order.placed', filter: { nope: [1] } } },
      { allowedLatenessMs: 0, onMatchError: (error) => errors.push(error) },
    );

    const { firings } = run(evaluator, events({ type: 'order.placed', at: T0 }, { type: 'order.placed', at: T0 }));

    expect(firings).toEqual([]);
    expect(errors).toEqual([expect.objectContaining({ path: 'condition.match', phase: 'compile', reason: 'invalid-filter' })]);
  });

  it('given random ordered events, when evaluated, then exactly the events a brute-force check matches fire', () => {
    for (let seed = 1; seed <= 20; seed += 1) {
      const random = seededRandom(seed);
      const stream = randomEvents(random, { types: ['a', 'b', 'c'], subjects: ['x', 'y'], length: 200, maxGapMs: 50 });
      const condition: EventTriggerCondition = { kind: 'event', match: { type: 'a', filter: { '>=': [{ var: 'data.n' }, 2] } } };

      const { firings, late } = run(eventConditionEvaluator(condition, { allowedLatenessMs: 0 }), stream.map((event) => ({ event })));

      const expected = stream.filter((event) => event.view.type === 'a' && nOf(event) >= 2).map((event) => `event:${event.eventId}`);
      expect({ seed, keys: keysOf(firings) }).toEqual({ seed, keys: expected });
      expect(late).toEqual([]);
    }
  });
});
