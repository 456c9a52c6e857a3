import { DeciderSpecification, DeciderSpecificationError, firstDifference, testCommandContext } from './decider-specification';
import type { Decider } from './decider';
import { conflict } from './domain-error';

// A minimal counter aggregate, enough to exercise every branch of the specification helper.
type CounterEvent =
  | { type: 'counter.incremented'; data: { by: number; at: string; id: string; note?: string } }
  | { type: 'counter.broken'; data: Record<string, never> };
type CounterCommand =
  | { type: 'Increment'; data: { by: number; note?: string } }
  | { type: 'Break'; data: Record<string, never> }
  | { type: 'Crash'; data: Record<string, never> }
  | { type: 'Noop'; data: Record<string, never> };

const counterDecider: Decider<number, CounterCommand, CounterEvent> = {
  initialState: () => 0,
  decide: (command, state, context) => {
    switch (command.type) {
      case 'Increment':
        if (state + command.data.by > 3) throw conflict('COUNTER_FULL', 'counter is full');
        return [{ type: 'counter.incremented', data: { by: command.data.by, at: context.now, id: context.newId(), note: command.data.note } }];
      case 'Break':
        return [{ type: 'counter.broken', data: {} }];
      case 'Crash':
        throw new TypeError('boom');
      case 'Noop':
        return [];
    }
  },
  evolve: (state, event) => {
    if (event.type === 'counter.broken') throw new Error('cannot evolve a broken counter');
    return state + event.data.by;
  },
};

const incremented = (by: number, id = 'id-1', at = '2026-01-01T00:00:00.000Z'): CounterEvent => ({
  type: 'counter.incremented',
  data: { by, at, id },
});

const spec = DeciderSpecification.for(counterDecider);

describe('DeciderSpecification', () => {
  describe('then', () => {
    it('passes when decide returns the expected events given the history', () => {
      spec.given([incremented(1)]).when({ type: 'Increment', data: { by: 2 } }).then([incremented(2)]);
    });

    it('takes time and ids from the overridden context', () => {
      spec
        .given([])
        .when({ type: 'Increment', data: { by: 1 } }, { now: '2030-05-05T00:00:00.000Z', newId: () => 'fixed' })
        .then([incremented(1, 'fixed', '2030-05-05T00:00:00.000Z')]);
    });

    it('treats undefined optional fields as absent', () => {
      spec.given([]).when({ type: 'Increment', data: { by: 1, note: undefined } }).then([incremented(1)]);
    });

    it('fails when the events differ, naming where', () => {
      expect(() => spec.given([]).when({ type: 'Increment', data: { by: 1 } }).then([incremented(2)])).toThrow(
        /Events differ at \[0\]\.data\.by: expected 2, received 1/,
      );
    });

    it('fails when decide returns more or fewer events than expected', () => {
      expect(() => spec.given([]).when({ type: 'Increment', data: { by: 1 } }).then([])).toThrow(/expected 0 items, received 1/);
      expect(() => spec.given([]).when({ type: 'Noop', data: {} }).then([incremented(1)])).toThrow(DeciderSpecificationError);
    });

    it('fails when decide throws instead', () => {
      expect(() => spec.given([incremented(3)]).when({ type: 'Increment', data: { by: 1 } }).then([incremented(1)])).toThrow(
        /decide threw DomainError COUNTER_FULL/,
      );
    });

    it('fails when evolve cannot fold the produced events', () => {
      expect(() => spec.given([]).when({ type: 'Break', data: {} }).then([{ type: 'counter.broken', data: {} }])).toThrow(
        /evolve failed on the produced events/,
      );
    });
  });

  describe('thenNothingHappens', () => {
    it('passes on an empty decision and fails otherwise', () => {
      spec.given([]).when({ type: 'Noop', data: {} }).thenNothingHappens();
      expect(() => spec.given([]).when({ type: 'Increment', data: { by: 1 } }).thenNothingHappens()).toThrow(DeciderSpecificationError);
    });
  });

  describe('thenThrows', () => {
    it('passes on the expected code and kind and returns the error', () => {
      const error = spec.given([incremented(3)]).when({ type: 'Increment', data: { by: 1 } }).thenThrows('COUNTER_FULL', 'conflict');
      expect(error.message).toBe('counter is full');
    });

    it('fails on another code', () => {
      expect(() => spec.given([incremented(3)]).when({ type: 'Increment', data: { by: 1 } }).thenThrows('OTHER')).toThrow(
        /Expected DomainError OTHER but got DomainError COUNTER_FULL/,
      );
    });

    it('fails on another kind', () => {
      expect(() =>
        spec.given([incremented(3)]).when({ type: 'Increment', data: { by: 1 } }).thenThrows('COUNTER_FULL', 'not-found'),
      ).toThrow(/of kind not-found but its kind is conflict/);
    });

    it('fails when decide succeeds', () => {
      expect(() => spec.given([]).when({ type: 'Increment', data: { by: 1 } }).thenThrows('COUNTER_FULL')).toThrow(
        /Expected DomainError COUNTER_FULL but decide returned/,
      );
    });

    it('fails when decide throws something other than a DomainError', () => {
      expect(() => spec.given([]).when({ type: 'Crash', data: {} }).thenThrows('COUNTER_FULL')).toThrow(/TypeError: boom/);
    });
  });

  describe('testCommandContext', () => {
    it('yields sequential ids per context', () => {
      const context = testCommandContext();
      expect([context.newId(), context.newId()]).toEqual(['id-1', 'id-2']);
      expect(testCommandContext().newId()).toBe('id-1');
    });
  });

  describe('firstDifference', () => {
    it('compares nested structures and sets', () => {
      expect(firstDifference({ a: [1, { b: new Set([1, 2]) }] }, { a: [1, { b: new Set([2, 1]) }] }, '')).toBeNull();
      expect(firstDifference({ a: [1, { b: new Set([1]) }] }, { a: [1, { b: new Set([2]) }] }, '')).toMatch(/^at a\[1\]\.b/);
      expect(firstDifference({ a: 1 }, { a: 1, b: 2 }, '')).toBe('at b: expected undefined, received 2');
      expect(firstDifference([1], { 0: 1 }, '')).toMatch(/^at \(root\)/);
      expect(firstDifference(null, {}, '')).toMatch(/^at \(root\)/);
    });
  });
});
