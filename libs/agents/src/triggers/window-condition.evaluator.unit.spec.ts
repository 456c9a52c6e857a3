import { DomainError, type TriggerCondition } from '@meridian/domain';
import type { ConditionEvaluator } from './condition-evaluator';
import { isWindowCondition, windowConditionEvaluator, windowConditionTypes, type WindowConditionState, type WindowTriggerCondition } from './window-condition.evaluator';
import { keysOf, minutes, randomEvents, run, seededRandom, T0, triggerEvent, type Step } from './window-condition.fixture';

const labelled: readonly (readonly [string, WindowTriggerCondition])[] = [
  ['event with a filter', { kind: 'event', match: { type: 'a', filter: { '>=': [{ var: 'data.n' }, 2] } } }],
  ['threshold per subject', { kind: 'threshold', match: { type: 'a' }, count: 3, within: 'PT2S', per: 'subject' }],
  ['threshold global', { kind: 'threshold', match: { type: 'b' }, count: 4, within: 'PT1S', per: 'global' }],
  ['three-step sequence per subject', { kind: 'sequence', steps: [{ type: 'a' }, { type: 'b' }, { type: 'c' }], within: 'PT2S', per: 'subject' }],
  ['sequence of one type twice, global', { kind: 'sequence', steps: [{ type: 'a' }, { type: 'a' }], within: 'PT1S', per: 'global' }],
  ['absence per subject', { kind: 'absence', first: { type: 'a' }, then: { type: 'b' }, within: 'PT1S', per: 'subject' }],
  ['absence global', { kind: 'absence', first: { type: 'c' }, then: { type: 'a' }, within: 'PT0.5S', per: 'global' }],
];
const conditions = labelled.map(([, condition]) => condition);

const LATENESS = 400;

/** Events partly out of order (some beyond the lateness), with the clock ticking now and then. */
function workload(seed: number): Step[] {
  const random = seededRandom(seed);
  const stream = randomEvents(random, {
    types: ['a', 'b', 'c', 'd'],
    subjects: ['x', 'y', 'z'],
    length: 250,
    maxGapMs: 150,
    disorder: 0.25,
    maxDisorderMs: 1_000,
  });
  let newest = T0;
  const steps: Step[] = [];
  for (const event of stream) {
    if (random() < 0.2) steps.push({ now: newest + Math.floor(random() * 600) });
    steps.push({ event });
    newest = Math.max(newest, event.eventTime);
  }
  steps.push({ now: newest + minutes(5) });
  return steps;
}

describe('windowConditionEvaluator', () => {
  it.each(labelled)(
    'given %s and a workload with disorder, late events and ticks, when the state is stored and read back mid-stream, then the firings are those of an uninterrupted run',
    (_, condition) => {
      const evaluator = windowConditionEvaluator(condition, { allowedLatenessMs: LATENESS });
      let fired = 0;
      let late = 0;
      for (let seed = 1; seed <= 8; seed += 1) {
        const steps = workload(seed * 101);
        const uninterrupted = run(evaluator, steps);
        const random = seededRandom(seed);
        const restartAt = [Math.floor(random() * steps.length), Math.floor(random() * steps.length), Math.floor(random() * steps.length)];

        const restarted = run(evaluator, steps, { restartAt });
        const everyStep = run(evaluator, steps, { restartAt: steps.map((__, index) => index) });

        expect({ seed, restartAt, firings: restarted.firings, late: restarted.late }).toEqual({ seed, restartAt, firings: uninterrupted.firings, late: uninterrupted.late });
        expect({ seed, firings: everyStep.firings, late: everyStep.late }).toEqual({ seed, firings: uninterrupted.firings, late: uninterrupted.late });
        expect(JSON.parse(JSON.stringify(restarted.state))).toEqual(JSON.parse(JSON.stringify(uninterrupted.state)));
        fired += uninterrupted.firings.length;
        late += uninterrupted.late.length;
      }
      expect(fired).toBeGreaterThan(0);
      expect(late).toBeGreaterThan(0);
    },
  );

  it.each(labelled)(
    'given %s, when the same events are fed to a fresh evaluator, then the occurrence keys are the same and unique',
    (_, condition) => {
      const steps = workload(7);

      const first = run(windowConditionEvaluator(condition, { allowedLatenessMs: LATENESS }), steps);
      const second = run(windowConditionEvaluator(condition, { allowedLatenessMs: LATENESS }), steps);

      expect(keysOf(second.firings)).toEqual(keysOf(first.firings));
      expect(new Set(keysOf(first.firings)).size).toBe(first.firings.length);
    },
  );

  it.each(labelled)(
    'given %s, when events and ticks are evaluated, then the state passed in is never changed',
    (_, condition) => {
      const evaluator = windowConditionEvaluator(condition, { allowedLatenessMs: LATENESS });
      let state = evaluator.initialState();
      for (const step of workload(3)) {
        const before = JSON.stringify(state);
        const result = 'event' in step ? evaluator.onEvent(state, step.event) : evaluator.onTime(state, step.now);
        expect(JSON.stringify(state)).toBe(before);
        state = result.state;
      }
    },
  );

  it('given each event-driven kind, when an evaluator is made, then its state names the kind', () => {
    for (const condition of conditions) {
      expect(windowConditionEvaluator(condition, { allowedLatenessMs: 0 }).initialState().kind).toBe(condition.kind);
    }
  });

  it('given the state of another kind, when an evaluator is asked to continue from it, then it refuses', () => {
    const threshold = windowConditionEvaluator({ kind: 'threshold', match: { type: 'a' }, count: 2, within: 'PT1M', per: 'subject' }, { allowedLatenessMs: 0 });
    const absence: ConditionEvaluator<WindowConditionState> = windowConditionEvaluator(
      { kind: 'absence', first: { type: 'a' }, then: { type: 'b' }, within: 'PT1M', per: 'subject' },
      { allowedLatenessMs: 0 },
    );

    expect(() => absence.onEvent(threshold.initialState(), triggerEvent({ type: 'a', at: T0 }))).toThrow(/absence condition cannot continue from the state of a threshold condition/);
    expect(() => absence.nextDeadline(threshold.initialState())).toThrow(TypeError);
  });

  it('given an invalid duration, when an evaluator is made, then it is a validation failure naming the field', () => {
    const make = () => windowConditionEvaluator({ kind: 'threshold', match: { type: 'a' }, count: 2, within: 'P1M', per: 'subject' }, { allowedLatenessMs: 0 });

    expect(make).toThrow(DomainError);
    expect(make).toThrow(/condition\.within/);
  });

  it('given a negative allowed lateness, when an evaluator is made, then it is refused', () => {
    expect(() => windowConditionEvaluator({ kind: 'event', match: { type: 'a' } }, { allowedLatenessMs: -1 })).toThrow(RangeError);
  });

  it('given each kind, when asked which event types it looks at, then it names every step once', () => {
    expect(windowConditionTypes({ kind: 'event', match: { type: 'order.*' } })).toEqual(['order.*']);
    expect(windowConditionTypes({ kind: 'threshold', match: { type: 'login.failed' }, count: 3, within: 'PT1M', per: 'subject' })).toEqual(['login.failed']);
    expect(windowConditionTypes({ kind: 'sequence', steps: [{ type: 'a' }, { type: 'b' }, { type: 'a' }], within: 'PT1M', per: 'subject' })).toEqual(['a', 'b']);
    expect(windowConditionTypes({ kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT1M', per: 'subject' })).toEqual([
      'order.placed',
      'order.shipped',
    ]);
  });

  it('given schedule and state conditions, when sorted, then they are not event-driven and the factory refuses them', () => {
    const schedule: TriggerCondition = { kind: 'schedule', cron: '0 * * * *' };
    const state: TriggerCondition = { kind: 'state', predicate: { '<': [{ var: 'level' }, 10] } };

    expect(conditions.every(isWindowCondition)).toBe(true);
    expect(isWindowCondition(schedule)).toBe(false);
    expect(isWindowCondition(state)).toBe(false);
    expect(() => windowConditionEvaluator(schedule as unknown as WindowTriggerCondition, { allowedLatenessMs: 0 })).toThrow(/not an event-driven condition kind/);
  });
});
