import { evolveEntityState, type ScheduleTriggerCondition, type StateTriggerCondition } from '@meridian/domain';
import type { TriggerEvent } from './condition-evaluator';
import { timeConditionEvaluator, type TimeConditionState, type TimeTriggerCondition } from './time-condition.evaluator';

const ms = (iso: string) => Date.parse(iso);
const options = { allowedLatenessMs: 0, since: ms('2026-01-05T09:30:00Z') };

function inventoryEvent(level: number): TriggerEvent {
  const time = '2026-01-05T10:00:00.000Z';
  const data = { level };
  return {
    eventId: `evt-${level}`,
    position: level,
    eventTime: ms(time),
    view: { type: 'inventory.changed', subject: 'inventory-1', source: 'warehouse', id: `ce-${level}`, time, data, extensions: {} },
    entity: evolveEntityState(null, 'inventory-1', { type: 'inventory.changed', data, time }),
  };
}

describe('time condition evaluator factory', () => {
  const schedule: ScheduleTriggerCondition = { kind: 'schedule', cron: '0 * * * *' };
  const state: StateTriggerCondition = { kind: 'state', subjectType: 'inventory', predicate: { '<': [{ var: 'level' }, 10] } };

  it('given a schedule condition, when built, then it evaluates the schedule from `since`', () => {
    const evaluator = timeConditionEvaluator(schedule, options);

    const initial = evaluator.initialState();
    const result = evaluator.onTime(initial, ms('2026-01-05T10:00:00Z'));

    expect(initial).toEqual({ kind: 'schedule', last: options.since });
    expect(result.firings.map((firing) => firing.occurrenceKey)).toEqual(['schedule:2026-01-05T10:00:00.000Z']);
    expect(evaluator.nextDeadline(result.state)).toBe(ms('2026-01-05T11:00:00Z'));
  });

  it('given a state condition, when built, then it evaluates the predicate over the folded entity', () => {
    const evaluator = timeConditionEvaluator(state, options);

    const result = evaluator.onEvent(evaluator.initialState(), inventoryEvent(3));

    expect(result.firings.map((firing) => firing.occurrenceKey)).toEqual(['state:inventory-1:evt-3']);
    expect(evaluator.nextDeadline(result.state)).toBeNull();
  });

  it('given conditions of either kind, when built through the union, then each state says its kind and survives a JSON round trip', () => {
    const conditions: TimeTriggerCondition[] = [schedule, state];

    for (const condition of conditions) {
      const evaluator = timeConditionEvaluator(condition, options);
      const stored = JSON.parse(JSON.stringify(evaluator.initialState())) as TimeConditionState;

      expect(stored.kind).toBe(condition.kind);
      expect(evaluator.onTime(stored, ms('2026-01-05T10:00:00Z')).firings).toHaveLength(condition.kind === 'schedule' ? 1 : 0);
      expect(evaluator.onEvent(stored, inventoryEvent(2)).firings).toHaveLength(condition.kind === 'state' ? 1 : 0);
    }
  });

  it('given the stored state of the other kind, when evaluated, then it is refused rather than misread', () => {
    const scheduleEvaluator = timeConditionEvaluator(schedule as TimeTriggerCondition, options);
    const stateEvaluator = timeConditionEvaluator(state as TimeTriggerCondition, options);

    expect(() => scheduleEvaluator.onTime(stateEvaluator.initialState(), ms('2026-01-05T10:00:00Z'))).toThrow(/a schedule condition cannot continue from the state of a state condition/);
    expect(() => stateEvaluator.onEvent(scheduleEvaluator.initialState(), inventoryEvent(1))).toThrow(/a state condition cannot continue from the state of a schedule condition/);
    expect(() => stateEvaluator.nextDeadline(scheduleEvaluator.initialState())).toThrow();
  });

  it('given a predicate that cannot be compiled, when built, then it is reported to the handler the other kinds use', () => {
    const reported: unknown[] = [];

    timeConditionEvaluator({ kind: 'state', predicate: { nope: [1] } }, { ...options, onMatchError: (error) => reported.push(error) });

    expect(reported).toEqual([expect.objectContaining({ path: 'condition.predicate', phase: 'compile', message: expect.stringContaining('unknown JSON Logic operator "nope"') })]);
  });

  it('given an unusable condition, when built, then it is refused', () => {
    expect(() => timeConditionEvaluator({ kind: 'schedule', cron: '0 * * * *', timezone: 'Mars/Olympus' }, options)).toThrow();
    expect(() => timeConditionEvaluator({ kind: 'event', match: { type: 'x' } } as unknown as TimeTriggerCondition, options)).toThrow(/not a schedule or state condition/);
  });
});
