import type { ScheduleTriggerCondition } from '@meridian/domain';
import type { ConditionFiring, TriggerEvent } from './condition-evaluator';
import { scheduleConditionEvaluator, type ScheduleConditionState, type ScheduleEvaluatorOptions } from './schedule-condition.evaluator';

const ms = (iso: string) => Date.parse(iso);
const iso = (epoch: number) => new Date(epoch).toISOString();
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function schedule(cron: string, since: string, timezone?: string, options: Partial<ScheduleEvaluatorOptions> = {}) {
  const condition: ScheduleTriggerCondition = { kind: 'schedule', cron, ...(timezone !== undefined && { timezone }) };
  return scheduleConditionEvaluator(condition, { allowedLatenessMs: 0, since: ms(since), ...options });
}

type Evaluator = ReturnType<typeof schedule>;

/** Drives the clock from `from` to `to` (inclusive) in steps, as a timer loop would; returns every firing. */
function drive(evaluator: Evaluator, state: ScheduleConditionState, from: number, to: number, step: number) {
  const firings: ConditionFiring[] = [];
  let current = state;
  for (let now = from; now <= to; now += step) {
    const result = evaluator.onTime(current, now);
    firings.push(...result.firings);
    current = result.state;
  }
  return { firings, state: current };
}

/** Local wall-clock time (HH:MM) of an instant in a zone. */
function localTime(epoch: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(epoch));
}

function localDate(epoch: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(epoch));
}

describe('schedule condition evaluator', () => {
  describe('ticks on time', () => {
    it('given an hourly schedule created at 09:30, when asked, then its next deadline is 10:00 and nothing is due before', () => {
      const evaluator = schedule('0 * * * *', '2026-01-05T09:30:00Z');
      const state = evaluator.initialState();

      expect(evaluator.nextDeadline(state)).toBe(ms('2026-01-05T10:00:00Z'));
      const early = evaluator.onTime(state, ms('2026-01-05T09:59:59.999Z'));
      expect(early.firings).toEqual([]);
      expect(early.state).toBe(state);
    });

    it('given an hourly schedule, when the clock reaches a tick, then it fires once on time and the deadline moves to the next tick', () => {
      const evaluator = schedule('0 * * * *', '2026-01-05T09:30:00Z');

      const first = evaluator.onTime(evaluator.initialState(), ms('2026-01-05T10:00:00Z'));

      expect(first.firings).toEqual([
        { occurrenceKey: 'schedule:2026-01-05T10:00:00.000Z', subject: null, matched: [], at: ms('2026-01-05T10:00:00Z'), late: false },
      ]);
      expect(first.late).toEqual([]);
      expect(evaluator.nextDeadline(first.state)).toBe(ms('2026-01-05T11:00:00Z'));
      const again = evaluator.onTime(first.state, ms('2026-01-05T10:00:00.500Z'));
      expect(again.firings).toEqual([]);
      expect(again.state).toBe(first.state);
    });

    it('given a tick, when the clock reaches it within the tolerance, then it is on time; beyond it, late', () => {
      const evaluator = schedule('0 * * * *', '2026-01-05T09:30:00Z');
      const state = evaluator.initialState();

      expect(evaluator.onTime(state, ms('2026-01-05T10:00:01.000Z')).firings).toMatchObject([{ at: ms('2026-01-05T10:00:00Z'), late: false }]);
      expect(evaluator.onTime(state, ms('2026-01-05T10:00:01.001Z')).firings).toMatchObject([{ at: ms('2026-01-05T10:00:00Z'), late: true }]);
      const tolerant = schedule('0 * * * *', '2026-01-05T09:30:00Z', undefined, { lateToleranceMs: 30_000 });
      expect(tolerant.onTime(tolerant.initialState(), ms('2026-01-05T10:00:29Z')).firings).toMatchObject([{ late: false }]);
      expect(tolerant.onTime(tolerant.initialState(), ms('2026-01-05T10:00:31Z')).firings).toMatchObject([{ late: true }]);
    });

    it('given a timer loop that wakes at each deadline, when it runs for a day, then each hourly tick fires once, on time, in order', () => {
      const evaluator = schedule('0 * * * *', '2026-01-05T00:00:00Z');
      let state = evaluator.initialState();
      const firings: ConditionFiring[] = [];

      for (let deadline = evaluator.nextDeadline(state); deadline !== null && deadline <= ms('2026-01-06T00:00:00Z'); deadline = evaluator.nextDeadline(state)) {
        const result = evaluator.onTime(state, deadline + 200);
        firings.push(...result.firings);
        state = result.state;
      }

      expect(firings).toHaveLength(24);
      expect(firings.every((firing) => !firing.late)).toBe(true);
      expect(firings.map((firing) => firing.at)).toEqual(Array.from({ length: 24 }, (_, hour) => ms('2026-01-05T01:00:00Z') + hour * HOUR));
    });

    it('given a six-field expression, when the clock moves, then it fires on its seconds', () => {
      const evaluator = schedule('*/20 * * * * *', '2026-01-05T10:00:00Z');

      const { firings } = drive(evaluator, evaluator.initialState(), ms('2026-01-05T10:00:00Z'), ms('2026-01-05T10:01:00Z'), 500);

      expect(firings.map((firing) => iso(firing.at))).toEqual(['2026-01-05T10:00:20.000Z', '2026-01-05T10:00:40.000Z', '2026-01-05T10:01:00.000Z']);
      expect(firings.every((firing) => !firing.late)).toBe(true);
    });

    it('given events, when fed, then the schedule ignores them', () => {
      const evaluator = schedule('0 * * * *', '2026-01-05T09:30:00Z');
      const state = evaluator.initialState();
      const event: TriggerEvent = {
        eventId: 'evt-1',
        position: 1,
        eventTime: ms('2026-01-05T11:00:00Z'),
        view: { type: 'order.placed', subject: 'order-1', source: 'shop', id: 'ce-1', time: '2026-01-05T11:00:00Z', data: {}, extensions: {} },
      };

      expect(evaluator.onEvent(state, event)).toEqual({ state, firings: [], late: [] });
      expect(evaluator.onEvent(state, event).state).toBe(state);
    });
  });

  describe('restarts', () => {
    it('given a process down across three ticks, when it comes back, then the most recent missed tick fires once, late, and the next ones on time', () => {
      const evaluator = schedule('0 * * * *', '2026-01-05T09:30:00Z');
      const before = evaluator.onTime(evaluator.initialState(), ms('2026-01-05T10:00:00.100Z'));
      const stored = JSON.stringify(before.state);

      // Down from 10:05 to 13:20: the 11:00, 12:00 and 13:00 ticks passed meanwhile.
      const restarted = schedule('0 * * * *', '2026-01-05T09:30:00Z');
      const back = restarted.onTime(JSON.parse(stored) as ScheduleConditionState, ms('2026-01-05T13:20:00Z'));

      expect(back.firings).toEqual([
        { occurrenceKey: 'schedule:2026-01-05T13:00:00.000Z', subject: null, matched: [], at: ms('2026-01-05T13:00:00Z'), late: true },
      ]);
      expect(restarted.nextDeadline(back.state)).toBe(ms('2026-01-05T14:00:00Z'));
      expect(restarted.onTime(back.state, ms('2026-01-05T13:59:00Z')).firings).toEqual([]);
      expect(restarted.onTime(back.state, ms('2026-01-05T14:00:00.300Z')).firings).toMatchObject([{ at: ms('2026-01-05T14:00:00Z'), late: false }]);
    });

    it('given a process that comes back exactly at a tick, when evaluated, then the missed ticks fire once late and the current one on time', () => {
      const evaluator = schedule('0 * * * *', '2026-01-05T09:30:00Z');
      const state: ScheduleConditionState = { kind: 'schedule', last: ms('2026-01-05T10:00:00Z') };

      const back = evaluator.onTime(state, ms('2026-01-05T13:00:00.200Z'));

      expect(back.firings.map((firing) => [iso(firing.at), firing.late])).toEqual([
        ['2026-01-05T12:00:00.000Z', true],
        ['2026-01-05T13:00:00.000Z', false],
      ]);
    });

    it('given a per-second schedule down for a week, when it comes back, then it fires the latest missed second once without walking the week', () => {
      const evaluator = schedule('* * * * * *', '2026-01-05T00:00:00Z');
      const now = ms('2026-01-12T00:00:00Z');

      const started = Date.now();
      const back = evaluator.onTime(evaluator.initialState(), now);
      const elapsed = Date.now() - started;

      expect(back.firings.map((firing) => [iso(firing.at), firing.late])).toEqual([
        ['2026-01-11T23:59:58.000Z', true],
        ['2026-01-11T23:59:59.000Z', false],
        ['2026-01-12T00:00:00.000Z', false],
      ]);
      // Walking 604,800 ticks takes tens of seconds; the prev() hint makes it a handful of steps.
      expect(elapsed).toBeLessThan(1000);
    });

    it('given a state stored and read back at every step, when the clock moves on, then the firings are the same as without the round trip', () => {
      const times = [
        '2026-01-05T09:45:00Z', '2026-01-05T10:00:00Z', '2026-01-05T10:00:00.500Z', '2026-01-05T10:30:00Z', '2026-01-05T13:10:00Z',
        '2026-01-05T14:00:00.999Z', '2026-01-05T14:00:05Z', '2026-01-05T15:00:00Z', '2026-01-06T02:00:00Z',
      ].map(ms);
      const continuous = schedule('0 * * * *', '2026-01-05T09:30:00Z');
      let kept = continuous.initialState();
      let roundTripped = JSON.parse(JSON.stringify(kept)) as ScheduleConditionState;

      for (const now of times) {
        // A fresh evaluator each time: nothing may live outside the stored state.
        const fresh = schedule('0 * * * *', '2026-01-05T09:30:00Z');
        const a = continuous.onTime(kept, now);
        const b = fresh.onTime(roundTripped, now);
        expect(b.firings).toEqual(a.firings);
        expect(fresh.nextDeadline(b.state)).toBe(continuous.nextDeadline(a.state));
        kept = a.state;
        roundTripped = JSON.parse(JSON.stringify(b.state)) as ScheduleConditionState;
      }
      expect(roundTripped).toEqual(kept);
    });
  });

  describe('time zones', () => {
    it('given no time zone, when a daily 09:00 schedule runs, then it fires at 09:00 UTC', () => {
      for (const evaluator of [schedule('0 9 * * *', '2026-07-01T00:00:00Z'), schedule('0 9 * * *', '2026-07-01T00:00:00Z', '')]) {
        expect(evaluator.nextDeadline(evaluator.initialState())).toBe(ms('2026-07-01T09:00:00Z'));
      }
    });

    it('given a daily 09:00 in America/New_York, when it runs across the DST changes, then it fires at 14:00 UTC in winter and 13:00 UTC in summer', () => {
      const winterToSummer = schedule('0 9 * * *', '2026-03-05T00:00:00Z', 'America/New_York');
      const spring = drive(winterToSummer, winterToSummer.initialState(), ms('2026-03-05T00:00:00Z'), ms('2026-03-11T00:00:00Z'), 5 * MINUTE);
      const summerToWinter = schedule('0 9 * * *', '2026-10-29T00:00:00Z', 'America/New_York');
      const autumn = drive(summerToWinter, summerToWinter.initialState(), ms('2026-10-29T00:00:00Z'), ms('2026-11-04T00:00:00Z'), 5 * MINUTE);

      // DST starts on Sunday 8 March 2026 and ends on Sunday 1 November 2026.
      expect(spring.firings.map((firing) => iso(firing.at))).toEqual([
        '2026-03-05T14:00:00.000Z', '2026-03-06T14:00:00.000Z', '2026-03-07T14:00:00.000Z',
        '2026-03-08T13:00:00.000Z', '2026-03-09T13:00:00.000Z', '2026-03-10T13:00:00.000Z',
      ]);
      expect(autumn.firings.map((firing) => iso(firing.at))).toEqual([
        '2026-10-29T13:00:00.000Z', '2026-10-30T13:00:00.000Z', '2026-10-31T13:00:00.000Z',
        '2026-11-01T14:00:00.000Z', '2026-11-02T14:00:00.000Z', '2026-11-03T14:00:00.000Z',
      ]);
      expect([...spring.firings, ...autumn.firings].every((firing) => localTime(firing.at, 'America/New_York') === '09:00')).toBe(true);
    });

    describe('daylight saving time in Europe/Berlin (2026: forward on 29 March at 02:00, back on 25 October at 03:00)', () => {
      const zone = 'Europe/Berlin';

      it('given a daily 02:30, when the clock springs forward past it, then it fires once that day, at 03:30 local (01:30 UTC)', () => {
        const evaluator = schedule('30 2 * * *', '2026-03-27T00:00:00Z', zone);

        const { firings } = drive(evaluator, evaluator.initialState(), ms('2026-03-27T00:00:00Z'), ms('2026-04-01T00:00:00Z'), MINUTE);

        expect(firings.map((firing) => [localDate(firing.at, zone), localTime(firing.at, zone), iso(firing.at)])).toEqual([
          ['2026-03-27', '02:30', '2026-03-27T01:30:00.000Z'],
          ['2026-03-28', '02:30', '2026-03-28T01:30:00.000Z'],
          ['2026-03-29', '03:30', '2026-03-29T01:30:00.000Z'],
          ['2026-03-30', '02:30', '2026-03-30T00:30:00.000Z'],
          ['2026-03-31', '02:30', '2026-03-31T00:30:00.000Z'],
        ]);
        expect(firings.every((firing) => !firing.late)).toBe(true);
      });

      it('given a daily 02:30, when the clock falls back and 02:30 happens twice, then it fires only at the first', () => {
        const evaluator = schedule('30 2 * * *', '2026-10-23T00:00:00Z', zone);

        const { firings } = drive(evaluator, evaluator.initialState(), ms('2026-10-23T00:00:00Z'), ms('2026-10-28T00:00:00Z'), MINUTE);

        expect(firings.map((firing) => [localDate(firing.at, zone), localTime(firing.at, zone), iso(firing.at)])).toEqual([
          ['2026-10-23', '02:30', '2026-10-23T00:30:00.000Z'],
          ['2026-10-24', '02:30', '2026-10-24T00:30:00.000Z'],
          ['2026-10-25', '02:30', '2026-10-25T00:30:00.000Z'],
          ['2026-10-26', '02:30', '2026-10-26T01:30:00.000Z'],
          ['2026-10-27', '02:30', '2026-10-27T01:30:00.000Z'],
        ]);
        expect(new Set(firings.map((firing) => firing.occurrenceKey)).size).toBe(firings.length);
      });

      it('given a process down across the repeated hour, when it comes back, then the daily 02:30 fires once, late', () => {
        const evaluator = schedule('30 2 * * *', '2026-10-24T12:00:00Z', zone);

        // Down from 01:00 to 03:10 local (CEST 01:00 = 23:00 UTC, CET 03:10 = 02:10 UTC).
        const back = evaluator.onTime(evaluator.initialState(), ms('2026-10-25T02:10:00Z'));

        expect(back.firings.map((firing) => [iso(firing.at), firing.late])).toEqual([['2026-10-25T00:30:00.000Z', true]]);
        expect(evaluator.nextDeadline(back.state)).toBe(ms('2026-10-26T01:30:00Z'));
      });

      it.each([
        ['spring forward', '2026-03-28T12:00:00Z', '2026-03-29', 23, ['00:00', '01:00', '03:00', '04:00']],
        ['fall back', '2026-10-24T12:00:00Z', '2026-10-25', 25, ['00:00', '01:00', '02:00', '02:00', '03:00']],
      ])('given an hourly schedule, when 48 hours pass across the %s, then it fires once per real hour', (_, start, day, firingsThatDay, firstLocalHours) => {
        const evaluator = schedule('0 * * * *', start, zone);

        const { firings } = drive(evaluator, evaluator.initialState(), ms(start), ms(start) + 48 * HOUR, MINUTE);

        expect(firings).toHaveLength(48);
        expect(firings.every((firing) => !firing.late)).toBe(true);
        expect(new Set(firings.map((firing) => firing.occurrenceKey)).size).toBe(48);
        expect(firings.slice(1).every((firing, index) => firing.at - firings[index].at === HOUR)).toBe(true);
        const thatDay = firings.filter((firing) => localDate(firing.at, zone) === day);
        expect(thatDay).toHaveLength(firingsThatDay);
        expect(thatDay.slice(0, firstLocalHours.length).map((firing) => localTime(firing.at, zone))).toEqual(firstLocalHours);
      });

      it('given an hourly schedule, when the timer loop wakes at each deadline or every minute, then both see the same ticks', () => {
        const start = '2026-10-24T20:00:00Z';
        const evaluator = schedule('0 * * * *', start, zone);
        const everyMinute = drive(evaluator, evaluator.initialState(), ms(start), ms(start) + 12 * HOUR, MINUTE).firings;

        let state = evaluator.initialState();
        const atDeadlines: ConditionFiring[] = [];
        for (let deadline = evaluator.nextDeadline(state); deadline !== null && deadline <= ms(start) + 12 * HOUR; deadline = evaluator.nextDeadline(state)) {
          const result = evaluator.onTime(state, deadline);
          atDeadlines.push(...result.firings);
          state = result.state;
        }

        expect(atDeadlines).toEqual(everyMinute);
      });
    });
  });

  describe('catching up after downtime agrees with walking every tick', () => {
    // Near DST changes cron-parser's prev() and next() disagree; the jump to the latest missed tick
    // must land where walking the ticks one by one from the last fired would.
    const transitions: readonly [string, string][] = [
      ['Europe/Berlin', '2026-03-29T01:00:00Z'],
      ['Europe/Berlin', '2026-10-25T01:00:00Z'],
      ['America/New_York', '2026-03-08T07:00:00Z'],
      ['America/New_York', '2026-11-01T06:00:00Z'],
      ['Australia/Sydney', '2026-04-04T16:00:00Z'],
      ['Australia/Sydney', '2026-10-03T16:00:00Z'],
    ];
    const crons = ['30 2 * * *', '*/15 2 * * *', '0 * * * *', '*/20 * * * *', '0 1-3 * * *', '45 3 * * 0'];
    const offsets = [20 * MINUTE, HOUR, 3 * HOUR, 7 * HOUR, 26 * HOUR];

    it.each(transitions)('given schedules in %s around %s, when the clock jumps from any last tick, then the late firing is the walk\'s latest missed tick', (zone, change) => {
      const mismatches: string[] = [];
      for (const cron of crons) {
        const evaluator = schedule(cron, '2026-01-01T00:00:00Z', zone, { lateToleranceMs: 0 });
        for (let last = ms(change) - 18 * HOUR; last <= ms(change) + 18 * HOUR; last += 45 * MINUTE) {
          const walk: number[] = [];
          for (let tick = evaluator.nextDeadline({ kind: 'schedule', last }); tick !== null && tick <= last + 26 * HOUR; tick = evaluator.nextDeadline({ kind: 'schedule', last: tick })) {
            walk.push(tick);
          }
          for (const offset of offsets) {
            const now = last + offset;
            const missed = walk.filter((tick) => tick < now);
            const expected = [
              ...(missed.length > 0 ? [[iso(missed[missed.length - 1]), true]] : []),
              ...walk.filter((tick) => tick === now).map((tick) => [iso(tick), false]),
            ];
            const actual = evaluator.onTime({ kind: 'schedule', last }, now).firings.map((firing) => [iso(firing.at), firing.late]);
            if (JSON.stringify(actual) !== JSON.stringify(expected)) {
              mismatches.push(`${cron} from ${iso(last)} to ${iso(now)}: ${JSON.stringify(actual)} instead of ${JSON.stringify(expected)}`);
            }
          }
        }
      }
      expect(mismatches).toEqual([]);
    });
  });

  describe('Australia/Lord_Howe (DST moves the clocks by half an hour)', () => {
    // cron-parser cannot compute some ticks of these nights (it exceeds its loop limit, or answers a
    // time before the one it was given): the schedule must go on, forwards, never twice.
    it.each([
      ['0 * * * *', /^\d\d:00$/],
      ['*/15 2 * * *', /^02:(00|15|30|45)$/],
      ['0 1-3 * * *', /^0[1-3]:00$/],
      ['30 1 * * *', /^01:30$/],
    ])('given %s across both changes, when the clock runs, then it keeps firing at matching local times, forwards, never twice', (cron, localTimes) => {
      for (const change of ['2026-04-04T15:00:00Z', '2026-10-03T15:30:00Z']) {
        const start = ms(change) - 12 * HOUR;
        const evaluator = schedule(cron, iso(start), 'Australia/Lord_Howe');

        const { firings, state } = drive(evaluator, evaluator.initialState(), start, start + 48 * HOUR, 10 * MINUTE);

        const ticks = firings.map((firing) => firing.at);
        expect(ticks.slice(1).every((tick, index) => tick > ticks[index])).toBe(true);
        expect(ticks.every((tick) => localTimes.test(localTime(tick, 'Australia/Lord_Howe')))).toBe(true);
        expect(ticks.filter((tick) => tick > ms(change) + 6 * HOUR).length).toBeGreaterThan(0);
        expect(evaluator.nextDeadline(state)).toBeGreaterThan(start + 48 * HOUR);
      }
    });
  });

  describe('invalid schedules', () => {
    it.each([
      ['an unknown time zone', '0 * * * *', 'Nowhere/Land'],
      ['a cron expression that is not one', 'every day', undefined],
      ['a date that never comes', '0 0 30 2 *', undefined],
    ])('given %s, when the evaluator is built, then it is refused', (_, cron, timezone) => {
      expect(() => schedule(cron, '2026-01-05T00:00:00Z', timezone)).toThrow();
    });
  });
});
