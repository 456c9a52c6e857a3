import { fold } from '../shared/decider';
import { DeciderSpecification } from '../shared/decider-specification';
import type { DefineTrigger, FireTrigger, TriggerCommand } from './trigger.commands';
import { triggerDecider } from './trigger.decider';
import type { TriggerDefinition } from './trigger.definition';
import { TRIGGER_EVENT_TYPES, type TriggerEvent, type TriggerEventType, type TriggerFired } from './trigger.events';

const spec = DeciderSpecification.for(triggerDecider);
const triggerId = 'trigger-1';
const agentId = 'agent-1';

const defineData: DefineTrigger['data'] = {
  triggerId,
  name: 'unshipped-orders',
  agentId,
  condition: { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT2H' },
  action: { kind: 'wake-agent', task: 'Order {{subject}} has not shipped' },
  cooldown: 'PT10M',
};
const defineTrigger = (overrides: Partial<Record<keyof DefineTrigger['data'], unknown>> = {}): TriggerCommand => ({
  type: 'DefineTrigger',
  data: { ...defineData, ...overrides } as DefineTrigger['data'],
});

const definition: TriggerDefinition = {
  name: 'unshipped-orders',
  condition: { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT2H', per: 'subject' },
  action: { kind: 'wake-agent', task: 'Order {{subject}} has not shipped' },
  cooldown: 'PT10M',
};

const defined: TriggerEvent = { type: 'trigger.defined', data: { triggerId, agentId, definition, enabled: true, version: 1 } };
const disabled: TriggerEvent = { type: 'trigger.disabled', data: { triggerId, version: 1 } };
const enabled: TriggerEvent = { type: 'trigger.enabled', data: { triggerId, version: 1 } };
const deleted: TriggerEvent = { type: 'trigger.deleted', data: { triggerId, version: 1 } };

const matchedEvents = [{ eventId: 'evt-1', position: 41, type: 'order.placed', subject: 'order-7' }];
const fireTrigger = (overrides: Partial<FireTrigger['data']> = {}): TriggerCommand => ({
  type: 'FireTrigger',
  data: { triggerId, firingId: 'firing-1', occurrenceKey: 'order-7:evt-1', matchedEvents, firedAt: '2026-01-01T12:00:00.000Z', ...overrides },
});
const fired = (overrides: Partial<TriggerFired['data']> = {}): TriggerEvent => ({
  type: 'trigger.fired',
  data: {
    triggerId,
    agentId,
    version: 1,
    firingId: 'firing-1',
    occurrenceKey: 'order-7:evt-1',
    matchedEvents,
    firedAt: '2026-01-01T12:00:00.000Z',
    action: definition.action,
    ...overrides,
  },
});
const { cooldown: _none, ...noCooldown } = definition;
const definedWithoutCooldown: TriggerEvent = { type: 'trigger.defined', data: { triggerId, agentId, definition: noCooldown, enabled: true, version: 1 } };

describe('trigger decider', () => {
  it('lists every event type it defines', () => {
    const complete: [Exclude<TriggerEventType, (typeof TRIGGER_EVENT_TYPES)[number]>] extends [never] ? true : false = true;
    expect(complete).toBe(true);
  });

  describe('DefineTrigger', () => {
    it('defines an enabled trigger at version 1, with per defaulting to subject', () => {
      spec.given([]).when(defineTrigger()).then([defined]);
    });

    it('defines a disabled trigger without cooldown when asked', () => {
      spec
        .given([])
        .when(defineTrigger({ cooldown: undefined, enabled: false }))
        .then([{ type: 'trigger.defined', data: { triggerId, agentId, definition: noCooldown, enabled: false, version: 1 } }]);
    });

    it.each([
      [{ kind: 'event', match: { type: 'order.*', filter: { '>': [{ var: 'data.total' }, 100] } } }],
      [{ kind: 'threshold', match: { type: 'payment.failed' }, count: 3, within: 'PT15M', per: 'global' }],
      [{ kind: 'sequence', steps: [{ type: 'cart.created' }, { type: 'cart.abandoned' }], within: 'P1D', per: 'subject' }],
      [{ kind: 'schedule', cron: '0 9 * * 1-5', timezone: 'Europe/Paris' }],
      [{ kind: 'schedule', cron: '*/5 * * * *' }],
      [{ kind: 'state', subjectType: 'order', predicate: { '==': [{ var: 'status' }, 'stuck'] } }],
      [{ kind: 'state', predicate: { var: 'flagged' } }],
    ])('accepts the condition %j as given', (condition) => {
      spec
        .given([])
        .when(defineTrigger({ condition }))
        .then([{ type: 'trigger.defined', data: { triggerId, agentId, definition: { ...definition, condition } as TriggerDefinition, enabled: true, version: 1 } }]);
    });

    it.each([
      [{ kind: 'send-message', to: 'agent-2', content: 'Check {{subject}}' }],
      [{ kind: 'emit-event', eventType: 'order.late', subject: '{{subject}}', data: { since: '{{firstEvent.time}}' } }],
    ])('accepts the action %j as given', (action) => {
      spec
        .given([])
        .when(defineTrigger({ action }))
        .then([{ type: 'trigger.defined', data: { triggerId, agentId, definition: { ...definition, action } as TriggerDefinition, enabled: true, version: 1 } }]);
    });

    it('rejects defining a trigger twice', () => {
      spec.given([defined]).when(defineTrigger()).thenThrows('TRIGGER_ALREADY_EXISTS', 'conflict');
    });

    it('rejects defining over a deleted trigger', () => {
      spec.given([defined, deleted]).when(defineTrigger()).thenThrows('TRIGGER_DELETED', 'gone');
    });

    it.each([
      ['cooldown', { cooldown: 'PT0S' }, /^cooldown: .*zero/],
      ['cooldown', { cooldown: '-PT5M' }, /^cooldown: .*negative/],
      ['cooldown', { cooldown: '10 minutes' }, /^cooldown: .*not an ISO-8601 duration/],
      ['condition.within', { condition: { ...defineData.condition, within: 'PT' } }, /^condition\.within: /],
      ['condition.within', { condition: { kind: 'threshold', match: { type: 'a' }, count: 2, within: 'P1M' } }, /^condition\.within: .*years or months/],
    ])('rejects a bad duration in %s, naming it', (_field, overrides, message) => {
      const error = spec.given([]).when(defineTrigger(overrides)).thenThrows('VALIDATION_FAILED', 'validation');
      expect(error.message).toMatch(message);
    });

    it.each([
      [{ name: '' }, ['name']],
      [{ name: 'x'.repeat(101) }, ['name']],
      [{ agentId: ' ' }, ['agentId']],
      [{ triggerId: '' }, ['triggerId']],
      [{ enabled: 'yes' }, ['enabled']],
      [{ condition: { kind: 'sometimes' } }, ['condition.kind']],
      [{ condition: { kind: 'event', match: { type: 'order.*.x' } } }, ['condition.match.type']],
      [{ condition: { kind: 'event', match: { type: 'a', filter: 'yes' } } }, ['condition.match.filter']],
      [{ condition: { kind: 'threshold', match: { type: 'a' }, count: 0, within: 'PT1M' } }, ['condition.count']],
      [{ condition: { kind: 'threshold', match: { type: 'a' }, count: 2, within: 'PT1M', per: 'tenant' } }, ['condition.per']],
      [{ condition: { kind: 'sequence', steps: [{ type: 'a' }], within: 'PT1M' } }, ['condition.steps']],
      [{ condition: { kind: 'sequence', steps: [{ type: 'a' }, {}], within: 'PT1M' } }, ['condition.steps[1].type']],
      [{ condition: { kind: 'absence', first: { type: 'a' }, within: 'PT1M' } }, ['condition.then']],
      [{ condition: { kind: 'schedule', cron: '' } }, ['condition.cron']],
      [{ condition: { kind: 'schedule', cron: '* * * * *', timezone: 'Mars/Olympus' } }, ['condition.timezone']],
      [{ condition: { kind: 'state', predicate: [1] } }, ['condition.predicate']],
      [{ action: { kind: 'explode' } }, ['action.kind']],
      [{ action: { kind: 'wake-agent', task: '' } }, ['action.task']],
      [{ action: { kind: 'send-message', to: 'agent-2' } }, ['action.content']],
      [{ action: { kind: 'emit-event' } }, ['action.eventType']],
    ])('rejects %j at %j', (overrides, paths) => {
      const error = spec.given([]).when(defineTrigger(overrides)).thenThrows('VALIDATION_FAILED', 'validation');
      expect((error.details?.errors as { path: string }[]).map((issue) => issue.path)).toEqual(paths);
    });
  });

  describe('ChangeTrigger', () => {
    it('makes a new version with the whole new definition and what changed', () => {
      spec
        .given([defined])
        .when({ type: 'ChangeTrigger', data: { triggerId, changes: { name: 'late-orders', cooldown: 'PT1H' } } })
        .then([
          {
            type: 'trigger.changed',
            data: { triggerId, agentId, definition: { ...definition, name: 'late-orders', cooldown: 'PT1H' }, version: 2, changed: ['name', 'cooldown'] },
          },
        ]);
    });

    it('replaces the condition and action, and removes the cooldown given as null', () => {
      const condition = { kind: 'event' as const, match: { type: 'order.cancelled' } };
      const action = { kind: 'send-message' as const, to: 'agent-2', content: 'cancelled' };
      spec
        .given([defined])
        .when({ type: 'ChangeTrigger', data: { triggerId, changes: { condition, action, cooldown: null } } })
        .then([
          {
            type: 'trigger.changed',
            data: { triggerId, agentId, definition: { name: definition.name, condition, action }, version: 2, changed: ['condition', 'action', 'cooldown'] },
          },
        ]);
    });

    it('counts versions across changes, and changes a disabled trigger', () => {
      const v2: TriggerEvent = { type: 'trigger.changed', data: { triggerId, agentId, definition: { ...definition, name: 'b' }, version: 2, changed: ['name'] } };
      spec
        .given([defined, v2, disabled])
        .when({ type: 'ChangeTrigger', data: { triggerId, changes: { name: 'c' } } })
        .then([{ type: 'trigger.changed', data: { triggerId, agentId, definition: { ...definition, name: 'c' }, version: 3, changed: ['name'] } }]);
    });

    it('is a no-op when nothing changes', () => {
      spec.given([defined]).when({ type: 'ChangeTrigger', data: { triggerId, changes: { name: definition.name, cooldown: 'PT10M' } } }).thenNothingHappens();
    });

    it('rejects a zero cooldown and a malformed condition, naming both', () => {
      const error = spec
        .given([defined])
        .when({ type: 'ChangeTrigger', data: { triggerId, changes: { cooldown: 'P0D', condition: { kind: 'threshold', match: { type: 'a' }, count: 1, within: 'soon' } } } })
        .thenThrows('VALIDATION_FAILED', 'validation');
      expect((error.details?.errors as { path: string }[]).map((issue) => issue.path)).toEqual(['condition.within', 'cooldown']);
    });

    it('rejects an unknown trigger', () => {
      spec.given([]).when({ type: 'ChangeTrigger', data: { triggerId, changes: { name: 'x' } } }).thenThrows('TRIGGER_NOT_FOUND', 'not-found');
    });

    it('rejects a deleted trigger', () => {
      spec.given([defined, deleted]).when({ type: 'ChangeTrigger', data: { triggerId, changes: { name: 'x' } } }).thenThrows('TRIGGER_DELETED', 'gone');
    });
  });

  describe('EnableTrigger and DisableTrigger', () => {
    it('disables an enabled trigger and enables a disabled one', () => {
      spec.given([defined]).when({ type: 'DisableTrigger', data: { triggerId } }).then([disabled]);
      spec.given([defined, disabled]).when({ type: 'EnableTrigger', data: { triggerId } }).then([enabled]);
    });

    it('rejects enabling an enabled trigger and disabling a disabled one', () => {
      spec.given([defined]).when({ type: 'EnableTrigger', data: { triggerId } }).thenThrows('TRIGGER_ALREADY_ENABLED', 'conflict');
      spec.given([defined, disabled]).when({ type: 'DisableTrigger', data: { triggerId } }).thenThrows('TRIGGER_ALREADY_DISABLED', 'conflict');
    });

    it('rejects an unknown or deleted trigger', () => {
      spec.given([]).when({ type: 'EnableTrigger', data: { triggerId } }).thenThrows('TRIGGER_NOT_FOUND', 'not-found');
      spec.given([]).when({ type: 'DisableTrigger', data: { triggerId } }).thenThrows('TRIGGER_NOT_FOUND', 'not-found');
      spec.given([defined, disabled, deleted]).when({ type: 'EnableTrigger', data: { triggerId } }).thenThrows('TRIGGER_DELETED', 'gone');
      spec.given([defined, deleted]).when({ type: 'DisableTrigger', data: { triggerId } }).thenThrows('TRIGGER_DELETED', 'gone');
    });
  });

  describe('DeleteTrigger', () => {
    it('deletes an enabled or disabled trigger', () => {
      spec.given([defined]).when({ type: 'DeleteTrigger', data: { triggerId } }).then([deleted]);
      spec.given([defined, disabled]).when({ type: 'DeleteTrigger', data: { triggerId } }).then([deleted]);
    });

    it('rejects deleting twice and an unknown trigger', () => {
      spec.given([defined, deleted]).when({ type: 'DeleteTrigger', data: { triggerId } }).thenThrows('TRIGGER_DELETED', 'gone');
      spec.given([]).when({ type: 'DeleteTrigger', data: { triggerId } }).thenThrows('TRIGGER_NOT_FOUND', 'not-found');
    });
  });

  describe('FireTrigger', () => {
    it('fires with the matched events and the action to carry out', () => {
      spec.given([defined]).when(fireTrigger()).then([fired()]);
    });

    it('takes the firing id and time from the context when not given', () => {
      spec
        .given([defined])
        .when(fireTrigger({ firingId: undefined, firedAt: undefined }), { now: '2026-01-01T12:00:00.000Z', newId: () => 'generated' })
        .then([fired({ firingId: 'generated' })]);
    });

    it('fires with no matched events (a schedule) and a subject left out', () => {
      spec
        .given([defined])
        .when(fireTrigger({ matchedEvents: [] }))
        .then([fired({ matchedEvents: [] })]);
      spec
        .given([defined])
        .when(fireTrigger({ matchedEvents: [{ eventId: 'evt-1', position: 41, type: 'order.placed' } as never] }))
        .then([fired({ matchedEvents: [{ eventId: 'evt-1', position: 41, type: 'order.placed', subject: null }] })]);
    });

    it('is a no-op for an occurrence already fired, even when disabled or cooling down since', () => {
      spec.given([defined, fired()]).when(fireTrigger({ firingId: 'firing-2' })).thenNothingHappens();
      spec.given([defined, fired(), disabled]).when(fireTrigger({ firingId: 'firing-2' })).thenNothingHappens();
    });

    it('remembers every occurrence key, however many firings ago', () => {
      const many = Array.from({ length: 3_000 }, (_, i) => fired({ occurrenceKey: `key-${i}`, firingId: `f-${i}` }));
      spec.given([definedWithoutCooldown, ...many]).when(fireTrigger({ occurrenceKey: 'key-0' })).thenNothingHappens();
      expect(fold(triggerDecider, [definedWithoutCooldown, ...many])?.firingCount).toBe(3_000);
    });

    it('rejects firing a disabled trigger', () => {
      spec.given([defined, disabled]).when(fireTrigger()).thenThrows('TRIGGER_DISABLED', 'conflict');
    });

    it('fires again once enabled', () => {
      spec.given([defined, disabled, enabled]).when(fireTrigger()).then([fired()]);
    });

    it('rejects firing a deleted trigger, even for an occurrence already fired', () => {
      spec.given([defined, deleted]).when(fireTrigger()).thenThrows('TRIGGER_DELETED', 'gone');
      spec.given([defined, fired(), deleted]).when(fireTrigger()).thenThrows('TRIGGER_DELETED', 'gone');
    });

    it('rejects an unknown trigger', () => {
      spec.given([]).when(fireTrigger()).thenThrows('TRIGGER_NOT_FOUND', 'not-found');
    });

    it('rejects a new occurrence within the cooldown, saying when it ends', () => {
      const error = spec
        .given([defined, fired()])
        .when(fireTrigger({ occurrenceKey: 'order-8:evt-2', firedAt: '2026-01-01T12:09:59.999Z' }))
        .thenThrows('TRIGGER_COOLING_DOWN', 'conflict');
      expect(error.details).toEqual({ triggerId, lastFiredAt: '2026-01-01T12:00:00.000Z', availableAt: '2026-01-01T12:10:00.000Z' });
    });

    it('fires a new occurrence once the cooldown has passed', () => {
      spec
        .given([defined, fired()])
        .when(fireTrigger({ occurrenceKey: 'order-8:evt-2', firedAt: '2026-01-01T12:10:00.000Z' }))
        .then([fired({ occurrenceKey: 'order-8:evt-2', firedAt: '2026-01-01T12:10:00.000Z' })]);
    });

    it('uses the cooldown in force now', () => {
      const shorter: TriggerEvent = { type: 'trigger.changed', data: { triggerId, agentId, definition: { ...definition, cooldown: 'PT1M' }, version: 2, changed: ['cooldown'] } };
      spec
        .given([defined, fired(), shorter])
        .when(fireTrigger({ occurrenceKey: 'order-8:evt-2', firedAt: '2026-01-01T12:01:00.000Z' }))
        .then([fired({ occurrenceKey: 'order-8:evt-2', firedAt: '2026-01-01T12:01:00.000Z', version: 2 })]);
    });

    it('counts the cooldown from the latest firing, even when firings were recorded out of order', () => {
      const state = fold(triggerDecider, [
        definedWithoutCooldown,
        fired({ occurrenceKey: 'a', firedAt: '2026-01-01T12:00:00.000Z' }),
        fired({ occurrenceKey: 'b', firedAt: '2026-01-01T11:00:00.000Z' }),
      ]);
      expect(state?.lastFiredAt).toBe('2026-01-01T12:00:00.000Z');
    });

    it.each([
      [{ occurrenceKey: '' }, 'occurrenceKey'],
      [{ occurrenceKey: 'k'.repeat(1_001) }, 'occurrenceKey'],
      [{ firedAt: 'yesterday' }, 'firedAt'],
      [{ firingId: '' }, 'firingId'],
      [{ matchedEvents: [{ eventId: 'e', position: -1, type: 't', subject: null }] }, 'matchedEvents[0]'],
      [{ matchedEvents: 'evt-1' as never }, 'matchedEvents'],
    ])('rejects %j', (overrides, path) => {
      const error = spec.given([defined]).when(fireTrigger(overrides)).thenThrows('VALIDATION_FAILED', 'validation');
      expect(error.message.startsWith(`${path}: `)).toBe(true);
    });
  });
});
