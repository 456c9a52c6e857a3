import { CLOUD_EVENT_METADATA_KEY, streamName, type RecordedEvent, type TriggerConditionInput, type TriggerDefinition } from '@meridian/domain';
import { TriggerSet } from './trigger-set';

const T0 = Date.parse('2026-02-01T00:00:00.000Z');
let position = 0;

function recorded(stream: string, type: string, data: unknown, extra: { time?: number; subject?: string | null; cloudEvent?: boolean } = {}): RecordedEvent {
  position += 1;
  const tenantId = stream.split('/')[0];
  const envelope =
    extra.cloudEvent === false
      ? {}
      : { [CLOUD_EVENT_METADATA_KEY]: { id: `ce-${position}`, source: 'shop', specversion: '1.0', subject: extra.subject ?? null, time: extra.time === undefined ? null : new Date(extra.time).toISOString(), extensions: {} } };
  return {
    streamName: stream,
    revision: 0,
    position,
    eventId: `event-${position}`,
    type,
    data,
    metadata: { occurredAt: new Date(T0).toISOString(), correlationId: `c-${position}`, causationId: null, hop: 0, tenantId, actor: { kind: 'system', id: 'test' }, ...envelope },
    schemaVersion: 1,
    recordedAt: new Date(T0).toISOString(),
  };
}

const defined = (triggerId: string, condition: TriggerConditionInput, tenantId = 'default', enabled = true) =>
  recorded(streamName('trigger', triggerId, tenantId), 'trigger.defined', {
    triggerId,
    agentId: 'agent',
    definition: { name: triggerId, condition, action: { kind: 'wake-agent', task: 'look' } } as TriggerDefinition,
    enabled,
    version: 1,
  });

const domainEvent = (type: string, subject: string, tenantId = 'default', time = T0) => recorded(streamName('entity', subject, tenantId), type, {}, { subject, time });

describe('TriggerSet', () => {
  it('given triggers on exact types and prefixes, when events arrive, then each is evaluated only against the triggers whose patterns match it', () => {
    const set = new TriggerSet({ allowedLatenessMs: 0 });
    set.apply(defined('exact', { kind: 'event', match: { type: 'order.placed' } }));
    set.apply(defined('prefix', { kind: 'event', match: { type: 'order.*' } }));
    set.apply(defined('any', { kind: 'event', match: { type: '*' } }));
    set.apply(defined('other', { kind: 'event', match: { type: 'payment.failed' } }));

    const fired = set.evaluate(domainEvent('order.placed', 'order-1'));
    expect(fired.map((firing) => firing.trigger.triggerId).sort()).toEqual(['any', 'exact', 'prefix']);
    expect(set.evaluate(domainEvent('order.shipped', 'order-1')).map((firing) => firing.trigger.triggerId).sort()).toEqual(['any', 'prefix']);
    expect(set.get('default', 'other')?.stats.evaluations).toBe(0);
    expect(set.get('default', 'exact')?.stats.evaluations).toBe(1);
  });

  it('given two tenants, then a tenant\'s events never reach another tenant\'s triggers', () => {
    const set = new TriggerSet({ allowedLatenessMs: 0 });
    set.apply(defined('t', { kind: 'event', match: { type: 'order.placed' } }, 'acme'));
    expect(set.evaluate(domainEvent('order.placed', 'order-1', 'globex'))).toEqual([]);
    expect(set.evaluate(domainEvent('order.placed', 'order-1', 'acme'))).toHaveLength(1);
  });

  it('given events that were not ingested (no CloudEvent envelope, or a trigger\'s or agent\'s own stream), then they are not evaluated', () => {
    const set = new TriggerSet({ allowedLatenessMs: 0 });
    set.apply(defined('t', { kind: 'event', match: { type: '*' } }));
    expect(set.evaluate(recorded(streamName('entity', 'order-1'), 'order.placed', {}, { cloudEvent: false }))).toEqual([]);
    expect(set.evaluate(recorded(streamName('agent', 'a-1'), 'agent.memory-updated', {}))).toEqual([]);
    expect(set.get('default', 't')?.stats.evaluations).toBe(0);
  });

  it('given a trigger defined disabled, then it holds no state and sees nothing until enabled', () => {
    const set = new TriggerSet({ allowedLatenessMs: 0 });
    set.apply(defined('t', { kind: 'event', match: { type: 'order.placed' } }, 'default', false));
    expect(set.get('default', 't')?.state).toBeNull();
    expect(set.evaluate(domainEvent('order.placed', 'order-1'))).toEqual([]);
    set.apply(recorded(streamName('trigger', 't'), 'trigger.enabled', { triggerId: 't', version: 1 }));
    expect(set.get('default', 't')?.stateReason).toBe('enabled');
    expect(set.evaluate(domainEvent('order.placed', 'order-2'))).toHaveLength(1);
  });

  it('given a change of name or action only, then the condition state (an open window) is kept', () => {
    const set = new TriggerSet({ allowedLatenessMs: 0 });
    const absence: TriggerConditionInput = { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT1M', per: 'subject' };
    set.apply(defined('t', absence));
    set.evaluate(domainEvent('order.placed', 'order-1'));
    const before = set.nextDeadline();
    set.apply(
      recorded(streamName('trigger', 't'), 'trigger.changed', {
        triggerId: 't',
        agentId: 'agent',
        definition: { name: 'renamed', condition: absence, action: { kind: 'wake-agent', task: 'other' } },
        version: 2,
        changed: ['name', 'action'],
      }),
    );
    expect(set.get('default', 't')).toEqual(expect.objectContaining({ stateReason: 'defined', conditionVersion: 1, version: 2 }));
    expect(set.nextDeadline()).toBe(before);
    expect(set.advance(T0 + 60_000).map((firing) => firing.firing.subject)).toEqual(['order-1']);
  });

  it('tracks what changed since the last drain, and what was deleted', () => {
    const set = new TriggerSet({ allowedLatenessMs: 0 });
    set.apply(defined('a', { kind: 'event', match: { type: 'x' } }));
    set.apply(defined('b', { kind: 'event', match: { type: 'y' } }));
    expect(set.drainChanges().changed.map((row) => row.triggerId).sort()).toEqual(['a', 'b']);
    set.evaluate(domainEvent('x', 's-1'));
    set.apply(recorded(streamName('trigger', 'b'), 'trigger.deleted', { triggerId: 'b', version: 1 }));
    const { changed, removed } = set.drainChanges();
    expect(changed.map((row) => [row.triggerId, row.stats.evaluations])).toEqual([['a', 1]]);
    expect(removed).toEqual([{ tenantId: 'default', triggerId: 'b' }]);
    expect(set.hasChanges).toBe(false);
  });
});
