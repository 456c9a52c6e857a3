import type { SequenceTriggerCondition, TriggerEventMatch, TriggerScope } from '@meridian/domain';
import type { TriggerEvent } from './condition-evaluator';
import { sequenceConditionEvaluator } from './sequence-condition.evaluator';
import { events, idsOf, keysOf, minutes, nOf, randomEvents, run, seconds, seededRandom, T0, triggerEvent, type Step } from './window-condition.fixture';

const cartThenCheckout = (overrides: Partial<SequenceTriggerCondition> = {}): SequenceTriggerCondition => ({
  kind: 'sequence',
  steps: [{ type: 'cart.added' }, { type: 'checkout.failed' }],
  within: 'PT10M',
  per: 'subject',
  ...overrides,
});

const idsIn = (steps: readonly Step[]) => steps.map((step) => ('event' in step ? step.event.eventId : ''));
const at = (type: string, offsetMs: number, subject = 'user-1') => ({ type, subject, at: T0 + offsetMs });

describe('sequence condition', () => {
  it('given A then B within the window, when B arrives, then it fires with both, keyed by A', () => {
    const steps = events(at('cart.added', 0), at('checkout.failed', minutes(4)));

    const { firings } = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 }), steps);

    const ids = idsIn(steps);
    expect(firings).toHaveLength(1);
    expect(firings[0]).toMatchObject({ occurrenceKey: `sequence:user-1:${ids[0]}`, subject: 'user-1', at: T0 + minutes(4), late: false });
    expect(idsOf(firings[0]?.matched ?? [])).toEqual(ids);
  });

  it('given B before A, when both arrive in that order, then nothing fires', () => {
    const { firings } = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 }), events(at('checkout.failed', 0), at('cart.added', 1)));

    expect(firings).toEqual([]);
  });

  it('given unrelated events between the steps, when they arrive, then they are ignored and leave the state as it was', () => {
    const evaluator = sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 });
    const started = run(evaluator, events(at('cart.added', 0)));

    const between = run(evaluator, events(at('page.viewed', 1), at('cart.removed', 2)), { state: started.state });
    const completed = run(evaluator, events(at('checkout.failed', 3)), { state: between.state });

    expect(between.state).toBe(started.state);
    expect(completed.firings).toHaveLength(1);
  });

  it('given per subject, when A and B are of different subjects, then nothing fires; given global, then it fires with no subject', () => {
    const specs = [at('cart.added', 0, 'user-1'), at('checkout.failed', 1, 'user-2')];

    const perSubject = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 }), events(...specs));
    const global = run(sequenceConditionEvaluator(cartThenCheckout({ per: 'global' }), { allowedLatenessMs: 0 }), events(...specs));

    expect(perSubject.firings).toEqual([]);
    expect(global.firings).toHaveLength(1);
    expect(global.firings[0]?.subject).toBeNull();
    expect(global.firings[0]?.occurrenceKey).toMatch(/^sequence:global:/);
  });

  it('given B exactly `within` after A, when it arrives, then it fires; a millisecond later it does not', () => {
    const exactly = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 }), events(at('cart.added', 0), at('checkout.failed', minutes(10))));
    const beyond = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 }), events(at('cart.added', 0), at('checkout.failed', minutes(10) + 1)));

    expect(exactly.firings).toHaveLength(1);
    expect(beyond.firings).toEqual([]);
  });

  it('given A, A, B, B, when they arrive, then it fires once, for the first A, and the second B starts nothing', () => {
    const steps = events(at('cart.added', 0), at('cart.added', minutes(5)), at('checkout.failed', minutes(8)), at('checkout.failed', minutes(9)));

    const { firings } = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 }), steps);

    const ids = idsIn(steps);
    expect(keysOf(firings)).toEqual([`sequence:user-1:${ids[0]}`]);
    expect(idsOf(firings[0]?.matched ?? [])).toEqual([ids[0], ids[2]]);
  });

  it('given the first A is too old when B arrives, when a later A is still within the window, then it fires for the later A', () => {
    const steps = events(at('cart.added', 0), at('cart.added', minutes(5)), at('checkout.failed', minutes(12)));

    const { firings } = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 }), steps);

    const ids = idsIn(steps);
    expect(keysOf(firings)).toEqual([`sequence:user-1:${ids[1]}`]);
  });

  it('given a sequence fired, when a new A and B follow, then it fires again', () => {
    const steps = events(at('cart.added', 0), at('checkout.failed', 1), at('cart.added', 2), at('checkout.failed', 3));

    const { firings } = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 }), steps);

    const ids = idsIn(steps);
    expect(keysOf(firings)).toEqual([`sequence:user-1:${ids[0]}`, `sequence:user-1:${ids[2]}`]);
  });

  it('given three steps, when they arrive in order with repeats in between, then it fires with the earliest event of each step', () => {
    const condition = cartThenCheckout({ steps: [{ type: 'a' }, { type: 'b' }, { type: 'c' }] });
    const steps = events(at('b', 0), at('a', 1), at('c', 2), at('a', 3), at('b', 4), at('b', 5), at('c', 6));

    const { firings } = run(sequenceConditionEvaluator(condition, { allowedLatenessMs: 0 }), steps);

    const ids = idsIn(steps);
    expect(keysOf(firings)).toEqual([`sequence:user-1:${ids[1]}`]);
    expect(idsOf(firings[0]?.matched ?? [])).toEqual([ids[1], ids[4], ids[6]]);
  });

  it('given two steps of the same type, when two such events come within the window, then one event fills one step only', () => {
    const condition = cartThenCheckout({ steps: [{ type: 'a' }, { type: 'a' }] });

    const once = run(sequenceConditionEvaluator(condition, { allowedLatenessMs: 0 }), events(at('a', 0)));
    const twice = run(sequenceConditionEvaluator(condition, { allowedLatenessMs: 0 }), events(at('a', 0), at('a', 1), at('a', 2), at('a', 3)));

    expect(once.firings).toEqual([]);
    expect(twice.firings).toHaveLength(2);
  });

  it('given steps at the same time, when they arrive A then B, then they are in order; B then A, they are not', () => {
    const inOrder = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 }), events(at('cart.added', 0), at('checkout.failed', 0)));
    const reversed = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 }), events(at('checkout.failed', 0), at('cart.added', 0)));

    expect(inOrder.firings).toHaveLength(1);
    expect(reversed.firings).toEqual([]);
  });

  it('given an allowed lateness, when A arrives after B but is earlier by event time, then the late A completes the sequence', () => {
    const steps = events(at('checkout.failed', minutes(5)), at('cart.added', minutes(2)));

    const { firings, late } = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: minutes(5) }), steps);

    const ids = idsIn(steps);
    expect(late).toEqual([]);
    expect(firings).toHaveLength(1);
    expect(firings[0]).toMatchObject({ occurrenceKey: `sequence:user-1:${ids[1]}`, at: T0 + minutes(2) });
    expect(idsOf(firings[0]?.matched ?? [])).toEqual([ids[1], ids[0]]);
  });

  it('given an A later than the allowed lateness, when it arrives, then it is reported late and does not complete anything', () => {
    const steps = events(at('checkout.failed', minutes(5)), at('cart.added', minutes(2)));

    const { firings, late } = run(sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: minutes(1) }), steps);

    expect(firings).toEqual([]);
    expect(idsOf(late)).toEqual([idsIn(steps)[1]]);
  });

  it('given many subjects over time, when events keep coming, then the state holds only what a sequence can still use', () => {
    const evaluator = sequenceConditionEvaluator(cartThenCheckout({ within: 'PT10S' }), { allowedLatenessMs: seconds(5) });
    let state = evaluator.initialState();
    let largest = 0;
    for (let index = 0; index < 5_000; index += 1) {
      state = evaluator.onEvent(state, triggerEvent({ type: 'cart.added', subject: `user-${index}`, at: T0 + seconds(index) })).state;
      largest = Math.max(largest, state.windows.size);
    }

    expect(largest).toBeLessThanOrEqual(31);
  });

  it('given no deadline is involved, when time passes, then nothing changes and there is no next deadline', () => {
    const evaluator = sequenceConditionEvaluator(cartThenCheckout(), { allowedLatenessMs: 0 });
    const { state } = run(evaluator, events(at('cart.added', 0)));

    expect(evaluator.nextDeadline(state)).toBeNull();
    expect(evaluator.onTime(state, T0 + minutes(60))).toEqual({ state, firings: [], late: [] });
  });

  describe('against a brute-force reference over ordered events', () => {
    type Step = (event: TriggerEvent) => boolean;

    /**
     * Every event in order; after the last firing of its key, is there any chain of step events
     * ending with this one, within the window? Tried from every possible first step, earliest first,
     * and every possible event for each step (no greedy choice).
     */
    function reference(stream: readonly TriggerEvent[], steps: readonly Step[], withinMs: number, per: TriggerScope): string[] {
      const keys: string[] = [];
      const consumedUpTo = new Map<string, number>();
      const chainExists = (candidates: readonly TriggerEvent[], from: number, step: number, end: TriggerEvent): boolean => {
        if (step === steps.length - 1) return (steps[step] as Step)(end);
        for (let index = from; index < candidates.length; index += 1) {
          if ((steps[step] as Step)(candidates[index] as TriggerEvent) && chainExists(candidates, index + 1, step + 1, end)) return true;
        }
        return false;
      };
      stream.forEach((event, index) => {
        const key = per === 'global' ? 'global' : event.view.subject;
        if (key === null || !steps.some((step) => step(event))) return;
        const candidates = stream.filter(
          (other, position) =>
            position > (consumedUpTo.get(key) ?? -1) &&
            position < index &&
            (per === 'global' || other.view.subject === key) &&
            other.eventTime >= event.eventTime - withinMs,
        );
        for (let first = 0; first < candidates.length; first += 1) {
          const start = candidates[first] as TriggerEvent;
          if (!(steps[0] as Step)(start) || !chainExists(candidates, first + 1, 1, event)) continue;
          keys.push(`sequence:${key}:${start.eventId}`);
          consumedUpTo.set(key, index);
          return;
        }
      });
      return keys;
    }

    const byType = (type: string, minimum = 0): Step => (event) => event.view.type === type && nOf(event) >= minimum;
    const matchOf = (type: string, minimum = 0): TriggerEventMatch => ({ type, filter: { '>=': [{ var: 'data.n' }, minimum] } });

    it.each([
      ['a→b per subject', [matchOf('a'), matchOf('b')], [byType('a'), byType('b')], 'subject'],
      ['a→b global', [matchOf('a'), matchOf('b', 2)], [byType('a'), byType('b', 2)], 'global'],
      ['a→b→c per subject', [matchOf('a'), matchOf('b'), matchOf('c')], [byType('a'), byType('b'), byType('c')], 'subject'],
      ['a→a→b global', [matchOf('a'), matchOf('a'), matchOf('b')], [byType('a'), byType('a'), byType('b')], 'global'],
    ] as const)('given random ordered events and %s, when evaluated, then the firings are the reference ones', (_, matches, predicates, per) => {
      let fired = 0;
      for (let seed = 1; seed <= 25; seed += 1) {
        const random = seededRandom(seed * 17 + matches.length);
        const stream = randomEvents(random, { types: ['a', 'b', 'c', 'd'], subjects: ['x', 'y'], length: 150, maxGapMs: 300 });
        const condition = cartThenCheckout({ steps: matches, within: 'PT1S', per });

        const { firings, late } = run(sequenceConditionEvaluator(condition, { allowedLatenessMs: 0 }), stream.map((event) => ({ event })));

        expect({ seed, keys: keysOf(firings) }).toEqual({ seed, keys: reference(stream, predicates, 1_000, per) });
        expect(late).toEqual([]);
        fired += firings.length;
      }
      expect(fired).toBeGreaterThan(25);
    });
  });
});
