import { evolveEntityState, type EntityState, type StateTriggerCondition } from '@meridian/domain';
import type { ConditionFiring, TriggerEvent } from './condition-evaluator';
import { keyedEntries } from './keyed-json-map';
import { stateConditionEvaluator, subjectIsOfType, type StateConditionState, type StateEvaluatorOptions } from './state-condition.evaluator';
import type { TriggerMatchError } from './window-evaluation';

const ms = (iso: string) => Date.parse(iso);

/** Domain events in store order, each with its subject's state folded as ingestion folds it. */
class EntityFeed {
  private position = 0;
  private readonly entities = new Map<string, EntityState>();

  event(subject: string | null, data: unknown, options: { type?: string; time?: string; withEntity?: boolean } = {}): TriggerEvent {
    this.position += 1;
    const type = options.type ?? 'inventory.changed';
    const time = options.time ?? new Date(ms('2026-02-01T10:00:00Z') + this.position * 1000).toISOString();
    let entity: EntityState | null = null;
    if (subject !== null) {
      entity = evolveEntityState(this.entities.get(subject) ?? null, subject, { type, data, time });
      this.entities.set(subject, entity);
    }
    return {
      eventId: `evt-${this.position}`,
      position: this.position,
      eventTime: ms(time),
      view: { type, subject, source: 'warehouse', id: `ce-${this.position}`, time, data, extensions: {} },
      ...(options.withEntity !== false && { entity }),
    };
  }
}

/** The subjects for which the predicate holds, sorted, with the event that made it true. */
const holding = (state: StateConditionState) => [...keyedEntries(state.holding)].sort(([a], [b]) => a.localeCompare(b));

const lowStock: StateTriggerCondition = { kind: 'state', subjectType: 'inventory', predicate: { '<': [{ var: 'level' }, 10] } };

/** Feeds events in order; returns every firing and the final state. */
function feed(condition: StateTriggerCondition, events: readonly TriggerEvent[], options?: StateEvaluatorOptions) {
  const evaluator = stateConditionEvaluator(condition, options);
  let state = evaluator.initialState();
  const firings: ConditionFiring[] = [];
  for (const event of events) {
    const result = evaluator.onEvent(state, event);
    expect(result.late).toEqual([]);
    firings.push(...result.firings);
    state = result.state;
  }
  return { firings, state };
}

describe('state condition evaluator', () => {
  describe('edge triggering', () => {
    it('given a level above the threshold, when an event brings it below, then it fires once for that event', () => {
      const entities = new EntityFeed();
      const events = [entities.event('inventory-42', { sku: 'A1', level: 12 }), entities.event('inventory-42', { level: 9 })];

      const { firings, state } = feed(lowStock, events);

      expect(firings).toEqual([
        {
          occurrenceKey: 'state:inventory-42:evt-2',
          subject: 'inventory-42',
          matched: [{ eventId: 'evt-2', position: 2, type: 'inventory.changed', subject: 'inventory-42', time: '2026-02-01T10:00:02.000Z' }],
          at: ms('2026-02-01T10:00:02Z'),
          late: false,
        },
      ]);
      expect(holding(state)).toEqual([['inventory-42', 'evt-2']]);
    });

    it('given a predicate that already holds, when further events keep it true, then it does not fire again', () => {
      const entities = new EntityFeed();
      const evaluator = stateConditionEvaluator(lowStock);
      const first = evaluator.onEvent(evaluator.initialState(), entities.event('inventory-42', { level: 9 }));

      const second = evaluator.onEvent(first.state, entities.event('inventory-42', { level: 8 }));
      const unrelatedField = evaluator.onEvent(second.state, entities.event('inventory-42', { location: 'B2' }));

      expect(first.firings).toHaveLength(1);
      expect(second.firings).toEqual([]);
      expect(second.state).toBe(first.state);
      expect(unrelatedField.firings).toEqual([]);
    });

    it('given a subject never evaluated, when its first event makes the predicate true, then it fires (unknown counts as false)', () => {
      const entities = new EntityFeed();

      const { firings } = feed(lowStock, [entities.event('inventory-7', { level: 3 })]);

      expect(firings.map((firing) => firing.occurrenceKey)).toEqual(['state:inventory-7:evt-1']);
    });

    it('given a level that goes low, recovers and goes low again, when fed, then it fires each time it becomes true', () => {
      const entities = new EntityFeed();
      const events = [9, 8, 15, 20, 5, 4, 10, 2].map((level) => entities.event('inventory-42', { level }));

      const { firings, state } = feed(lowStock, events);

      expect(firings.map((firing) => firing.occurrenceKey)).toEqual(['state:inventory-42:evt-1', 'state:inventory-42:evt-5', 'state:inventory-42:evt-8']);
      expect(holding(state)).toEqual([['inventory-42', 'evt-8']]);
    });

    it('given a predicate over nested fields, when the folded state merges them, then it reads the merged state', () => {
      const entities = new EntityFeed();
      const nested: StateTriggerCondition = { kind: 'state', predicate: { and: [{ '<': [{ var: 'stock.level' }, 10] }, { '==': [{ var: 'stock.unit' }, 'box'] }] } };
      const events = [entities.event('inventory-1', { stock: { unit: 'box', level: 50 } }), entities.event('inventory-1', { stock: { level: 4 } })];

      const { firings } = feed(nested, events);

      // The second event alone has no unit: the predicate sees the entity, not the event.
      expect(firings.map((firing) => firing.occurrenceKey)).toEqual(['state:inventory-1:evt-2']);
    });

    it('given a predicate that stops holding, when the state only keeps holding subjects, then a subject that went back to normal is forgotten', () => {
      const entities = new EntityFeed();
      const events = [entities.event('inventory-1', { level: 1 }), entities.event('inventory-2', { level: 50 }), entities.event('inventory-1', { level: 80 })];

      const { state } = feed(lowStock, events);

      expect(holding(state)).toEqual([]);
      expect(state.holding.size).toBe(0);
    });
  });

  describe('subjects', () => {
    it('given two subjects, when each goes low at different times, then each fires once and neither affects the other', () => {
      const entities = new EntityFeed();
      const events = [
        entities.event('inventory-1', { level: 5 }),
        entities.event('inventory-2', { level: 50 }),
        entities.event('inventory-2', { level: 6 }),
        entities.event('inventory-1', { level: 4 }),
        entities.event('inventory-1', { level: 40 }),
        entities.event('inventory-2', { level: 3 }),
        entities.event('inventory-1', { level: 1 }),
      ];

      const { firings, state } = feed(lowStock, events);

      expect(firings.map((firing) => [firing.subject, firing.occurrenceKey])).toEqual([
        ['inventory-1', 'state:inventory-1:evt-1'],
        ['inventory-2', 'state:inventory-2:evt-3'],
        ['inventory-1', 'state:inventory-1:evt-7'],
      ]);
      expect(holding(state)).toEqual([['inventory-1', 'evt-7'], ['inventory-2', 'evt-3']]);
    });

    it.each([
      ['inventory', 'inventory', true],
      ['inventory-42', 'inventory', true],
      ['inventory:42', 'inventory', true],
      ['inventory/42', 'inventory', true],
      ['inventory.42', 'inventory', true],
      ['inventoryItem-1', 'inventory', false],
      ['inventory2', 'inventory', false],
      ['inventory_log-1', 'inventory', false],
      ['warehouse-inventory-1', 'inventory', false],
      ['Inventory-1', 'inventory', false],
      ['inventory/42', 'inventory/', true],
      ['inventory-42', 'inventory-', true],
      ['anything', undefined, true],
    ])('given the subject %j and the subject type %j, when matched, then it is of that type: %s', (subject, subjectType, expected) => {
      expect(subjectIsOfType(subject, subjectType)).toBe(expected);
    });

    it('given subjects of other types, when their state satisfies the predicate, then they are not evaluated', () => {
      const entities = new EntityFeed();
      const evaluator = stateConditionEvaluator(lowStock);
      const initial = evaluator.initialState();

      for (const subject of ['warehouse-1', 'inventoryItem-1']) {
        const result = evaluator.onEvent(initial, entities.event(subject, { level: 1 }));
        expect(result.firings).toEqual([]);
        expect(result.state).toBe(initial);
      }
      expect(evaluator.onEvent(initial, entities.event('inventory:9', { level: 1 })).firings).toHaveLength(1);
    });

    it('given no subject type, when any subject satisfies the predicate, then it fires for it', () => {
      const entities = new EntityFeed();
      const anySubject: StateTriggerCondition = { kind: 'state', predicate: { '==': [{ var: 'status' }, 'stuck'] } };

      const { firings } = feed(anySubject, [entities.event('order-1', { status: 'stuck' }), entities.event('shipment-9', { status: 'stuck' })]);

      expect(firings.map((firing) => firing.subject)).toEqual(['order-1', 'shipment-9']);
    });

    it('given events without a subject or without the folded entity, when fed, then they are not evaluated', () => {
      const entities = new EntityFeed();
      const evaluator = stateConditionEvaluator({ kind: 'state', predicate: { '==': [1, 1] } });
      const initial = evaluator.initialState();

      expect(evaluator.onEvent(initial, entities.event(null, { level: 1 }))).toEqual({ state: initial, firings: [], late: [] });
      expect(evaluator.onEvent(initial, entities.event('inventory-1', { level: 1 }, { withEntity: false })).state).toBe(initial);
    });

    it('given subjects named like object internals, when they go true and false, then they are kept as plain keys', () => {
      const entities = new EntityFeed();
      const anySubject: StateTriggerCondition = { kind: 'state', predicate: { '<': [{ var: 'level' }, 10] } };
      const events = ['__proto__', 'constructor', 'toString'].flatMap((subject) => [entities.event(subject, { level: 1 }), entities.event(subject, { level: 50 }), entities.event(subject, { level: 2 })]);

      const { firings, state } = feed(anySubject, events);

      expect(firings.map((firing) => firing.occurrenceKey)).toEqual([
        'state:__proto__:evt-1', 'state:__proto__:evt-3',
        'state:constructor:evt-4', 'state:constructor:evt-6',
        'state:toString:evt-7', 'state:toString:evt-9',
      ]);
      expect(holding(state)).toEqual([['__proto__', 'evt-3'], ['constructor', 'evt-6'], ['toString', 'evt-9']]);
      expect(Object.getPrototypeOf(state)).toBe(Object.prototype);
    });
  });

  describe('predicate errors', () => {
    it('given a predicate that returns a number, when evaluated, then it does not hold and the error is counted and kept', () => {
      const entities = new EntityFeed();
      const truthy: StateTriggerCondition = { kind: 'state', predicate: { var: 'level' } };
      const reported: TriggerMatchError[] = [];

      const { firings, state } = feed(truthy, [entities.event('inventory-1', { level: 5 }), entities.event('inventory-1', { level: 4 })], {
        onMatchError: (error) => reported.push(error),
      });

      expect(firings).toEqual([]);
      expect(reported).toEqual([
        { path: 'condition.predicate', phase: 'evaluate', reason: 'non-boolean', message: 'returned 5, not a boolean', event: { eventId: 'evt-1', type: 'inventory.changed' } },
        { path: 'condition.predicate', phase: 'evaluate', reason: 'non-boolean', message: 'returned 4, not a boolean', event: { eventId: 'evt-2', type: 'inventory.changed' } },
      ]);
      expect(state.predicateErrors).toBe(2);
      expect(state.lastPredicateError).toEqual({ subject: 'inventory-1', eventId: 'evt-2', reason: 'non-boolean', message: 'returned 4, not a boolean' });
    });

    it('given a predicate that throws, when evaluated, then it does not hold, the error is reported, and a holding subject counts as false', () => {
      const entities = new EntityFeed();
      // json-logic-js throws on `in` over an object whose indexOf is not a function.
      const tagged: StateTriggerCondition = { kind: 'state', predicate: { in: ['urgent', { var: 'tags' }] } };
      const events = [
        entities.event('order-1', { tags: ['urgent'] }),
        entities.event('order-1', { tags: { indexOf: 1 } }),
        entities.event('order-1', { tags: ['urgent', 'late'] }),
      ];

      const { firings, state } = feed(tagged, events, {
        onMatchError: () => {
          throw new Error('the handler fails too');
        },
      });

      expect(firings.map((firing) => firing.occurrenceKey)).toEqual(['state:order-1:evt-1', 'state:order-1:evt-3']);
      expect(state.predicateErrors).toBe(1);
      expect(state.lastPredicateError).toMatchObject({ subject: 'order-1', eventId: 'evt-2', reason: 'threw' });
    });

    it('given a predicate JSON Logic refuses, when the evaluator is built, then the problem is reported once and it never holds', () => {
      const entities = new EntityFeed();
      const reported: TriggerMatchError[] = [];
      const events = [entities.event('inventory-1', { level: 1, x: 0 }), entities.event('inventory-2', { level: 2, x: 0 })];

      const logging = feed({ kind: 'state', predicate: { log: 'x' } }, events, { onMatchError: (error) => reported.push(error) });
      const prototype = feed({ kind: 'state', predicate: { '<': [{ var: '__proto__.x' }, 1] } }, events, { onMatchError: (error) => reported.push(error) });

      expect([...logging.firings, ...prototype.firings]).toEqual([]);
      expect(reported).toEqual([
        { path: 'condition.predicate', phase: 'compile', reason: 'invalid-filter', message: expect.stringMatching(/^condition\.predicate\.log: the "log" operator is not allowed/) },
        { path: 'condition.predicate', phase: 'compile', reason: 'invalid-filter', message: expect.stringMatching(/may not read "__proto__"/) },
      ]);
      expect(prototype.state.predicateErrors).toBe(0);
    });
  });

  describe('event time and lateness', () => {
    it('given an event far older than those before it, when fed, then it is still evaluated in store order and fires at its own time', () => {
      const entities = new EntityFeed();
      const events = [
        entities.event('inventory-1', { level: 50 }, { time: '2026-02-01T12:00:00Z' }),
        entities.event('inventory-1', { level: 2 }, { time: '2026-02-01T08:00:00Z' }),
      ];

      const { firings } = feed(lowStock, events);

      expect(firings).toMatchObject([{ occurrenceKey: 'state:inventory-1:evt-2', at: ms('2026-02-01T08:00:00Z'), late: false }]);
    });

    it('given a state condition, when the clock moves, then nothing changes and there is no deadline', () => {
      const entities = new EntityFeed();
      const evaluator = stateConditionEvaluator(lowStock);
      const { state } = evaluator.onEvent(evaluator.initialState(), entities.event('inventory-1', { level: 2 }));

      expect(evaluator.onTime(state, ms('2030-01-01T00:00:00Z'))).toEqual({ state, firings: [], late: [] });
      expect(evaluator.nextDeadline(state)).toBeNull();
    });

    it('given the same events replayed from the start, when fed, then the firings are the same', () => {
      const entities = new EntityFeed();
      const events = [12, 9, 15, 3].map((level, index) => entities.event(`inventory-${index % 2}`, { level }));

      expect(feed(lowStock, events).firings).toEqual(feed(lowStock, events).firings);
    });
  });

  it('given the state stored and read back after every event, when fed on, then it behaves exactly as without the round trip', () => {
    const entities = new EntityFeed();
    const condition: StateTriggerCondition = { kind: 'state', predicate: { '<': [{ var: 'level' }, 10] } };
    const levels: [string, unknown][] = [
      ['inventory-1', 12], ['inventory-2', 3], ['inventory-1', 9], ['__proto__', 1], ['inventory-2', 'n/a'],
      ['inventory-1', 8], ['inventory-2', 2], ['__proto__', 20], ['inventory-1', 30], ['__proto__', 0], ['inventory-1', 1],
    ];
    const events = levels.map(([subject, level]) => entities.event(subject, { level }));
    const continuous = stateConditionEvaluator(condition);
    let kept = continuous.initialState();
    let stored = JSON.stringify(kept);

    for (const event of events) {
      const restarted = stateConditionEvaluator(condition);
      const a = continuous.onEvent(kept, event);
      const b = restarted.onEvent(JSON.parse(stored) as StateConditionState, event);
      expect(b.firings).toEqual(a.firings);
      expect(JSON.stringify(b.state)).toBe(JSON.stringify(a.state));
      kept = a.state;
      stored = JSON.stringify(b.state);
    }
    expect(JSON.parse(stored)).toMatchObject({ predicateErrors: 0 });
  });
});
