import { CLOUD_EVENT_METADATA_KEY, type AgentSubscription, type CloudEventEnvelope, type RecordedEvent } from '@meridian/domain';
import { cloudEventViewOf, type CloudEventView } from './cloud-event-view';
import { compileSubscriptions, parseTypePattern, SubscriptionIndex, type SubscriptionFilterError } from './subscription-matcher';

let position = 0;

/** A stored event as ingestion writes it: CloudEvent type and data, the rest of the envelope in metadata. */
function stored(
  type: string,
  data: unknown,
  envelope: Partial<CloudEventEnvelope> = {},
  extraMetadata: Record<string, unknown> = {},
): RecordedEvent {
  position += 1;
  const cloudEvent: CloudEventEnvelope = {
    id: `ce-${position}`,
    source: 'shop',
    specversion: '1.0',
    subject: 'order-1',
    time: '2026-01-01T00:00:00.000Z',
    datacontenttype: null,
    dataschema: null,
    extensions: {},
    ...envelope,
  };
  return {
    streamName: 'default/entity-order-1',
    revision: 0,
    position,
    eventId: `evt-${position}`,
    type,
    data,
    metadata: {
      occurredAt: '2026-01-01T00:00:00.000Z',
      correlationId: `evt-${position}`,
      causationId: null,
      hop: 0,
      tenantId: 'default',
      actor: { kind: 'system', id: 'meridian' },
      [CLOUD_EVENT_METADATA_KEY]: cloudEvent,
      ...extraMetadata,
    },
    schemaVersion: 1,
    recordedAt: '2026-01-01T00:00:00.000Z',
  };
}

const matches = (subscriptions: AgentSubscription[], event: RecordedEvent, onError?: (e: SubscriptionFilterError) => void) =>
  compileSubscriptions(subscriptions, { agentId: 'a1', onError }).matches(event);

describe('cloudEventViewOf', () => {
  it('given an ingested event, when viewed, then it has the documented CloudEvent shape with the producer id and source', () => {
    const event = stored('order.placed', { total: 5 }, { id: 'p-42', source: 'crm', extensions: { tenant: 'acme' } });
    expect(cloudEventViewOf(event)).toEqual({
      type: 'order.placed',
      subject: 'order-1',
      source: 'crm',
      id: 'p-42',
      time: '2026-01-01T00:00:00.000Z',
      data: { total: 5 },
      extensions: { tenant: 'acme' },
    });
  });

  it('given an event without subject, time or data, when viewed, then those are null', () => {
    const view = cloudEventViewOf(stored('ping', undefined, { subject: null, time: null }));
    expect(view).toMatchObject({ subject: null, time: null, data: null, extensions: {} });
  });

  it('given an event without a CloudEvent envelope, when viewed, then there is no view', () => {
    const event = stored('agent.defined', {});
    const { [CLOUD_EVENT_METADATA_KEY]: _omitted, ...metadata } = event.metadata;
    expect(cloudEventViewOf({ ...event, metadata: metadata as RecordedEvent['metadata'] })).toBeUndefined();
  });
});

describe('parseTypePattern', () => {
  it.each([
    ['order.placed', { kind: 'exact', type: 'order.placed' }],
    ['order.*', { kind: 'prefix', prefix: 'order.' }],
    ['*', { kind: 'prefix', prefix: '' }],
    ['', { kind: 'invalid' }],
    ['order.*.placed', { kind: 'invalid' }],
    ['order.**', { kind: 'invalid' }],
    ['order placed', { kind: 'invalid' }],
  ])('given the type "%s", when parsed, then it is %j', (type, expected) => {
    expect(parseTypePattern(type)).toEqual(expected);
  });
});

describe('compileSubscriptions: type patterns', () => {
  it('given an exact type, when events arrive, then only that type matches', () => {
    const subs = [{ type: 'order.placed' }];
    expect(matches(subs, stored('order.placed', {}))).toBe(true);
    expect(matches(subs, stored('order.placed.v2', {}))).toBe(false);
    expect(matches(subs, stored('order.shipped', {}))).toBe(false);
  });

  it('given a prefix pattern, when events arrive, then types under the prefix match and the bare prefix does not', () => {
    const subs = [{ type: 'order.*' }];
    expect(matches(subs, stored('order.placed', {}))).toBe(true);
    expect(matches(subs, stored('order.item.added', {}))).toBe(true);
    expect(matches(subs, stored('order', {}))).toBe(false);
    expect(matches(subs, stored('orders.placed', {}))).toBe(false);
  });

  it('given "*", when any event arrives, then it matches', () => {
    expect(matches([{ type: '*' }], stored('anything.at.all', {}))).toBe(true);
  });

  it('given no subscriptions, when an event arrives, then the agent does not get it', () => {
    expect(matches([], stored('order.placed', {}))).toBe(false);
  });

  it('given an event without a CloudEvent envelope, when matched against "*", then it does not match', () => {
    const event = stored('agent.defined', {});
    const { [CLOUD_EVENT_METADATA_KEY]: _omitted, ...metadata } = event.metadata;
    expect(matches([{ type: '*' }], { ...event, metadata: metadata as RecordedEvent['metadata'] })).toBe(false);
  });

  it('given several subscriptions, when one of them matches, then the agent gets the event', () => {
    const subs = [{ type: 'ticket.*' }, { type: 'order.placed', filter: { '>': [{ var: 'data.total' }, 100] } }];
    expect(matches(subs, stored('order.placed', { total: 150 }))).toBe(true);
    expect(matches(subs, stored('order.placed', { total: 50 }))).toBe(false);
    expect(matches(subs, stored('ticket.opened', {}))).toBe(true);
  });
});

describe('compileSubscriptions: filters', () => {
  it('given a filter on data, when events arrive, then only events whose data satisfies it match', () => {
    const subs = [{ type: 'order.*', filter: { '>': [{ var: 'data.total' }, 100] } }];
    expect(matches(subs, stored('order.placed', { total: 150 }))).toBe(true);
    expect(matches(subs, stored('order.placed', { total: 100 }))).toBe(false);
  });

  it('given a filter on subject and source, when events arrive, then it sees the envelope fields', () => {
    const subs = [
      {
        type: '*',
        filter: { and: [{ '==': [{ var: 'source' }, 'crm'] }, { '==': [{ substr: [{ var: 'subject' }, 0, 3] }, 'vip'] }] },
      },
    ];
    expect(matches(subs, stored('customer.updated', {}, { source: 'crm', subject: 'vip-7' }))).toBe(true);
    expect(matches(subs, stored('customer.updated', {}, { source: 'crm', subject: 'std-7' }))).toBe(false);
    expect(matches(subs, stored('customer.updated', {}, { source: 'shop', subject: 'vip-7' }))).toBe(false);
  });

  it('given a filter on an extension attribute, when events arrive, then it sees the extensions', () => {
    const subs = [{ type: 'order.placed', filter: { '==': [{ var: 'extensions.region' }, 'eu'] } }];
    expect(matches(subs, stored('order.placed', {}, { extensions: { region: 'eu' } }))).toBe(true);
    expect(matches(subs, stored('order.placed', {}, { extensions: { region: 'us' } }))).toBe(false);
    expect(matches(subs, stored('order.placed', {}))).toBe(false);
  });

  it('given a filter that returns a non-boolean, when evaluated, then it does not match and the error is reported', () => {
    const errors: SubscriptionFilterError[] = [];
    const event = stored('order.placed', { total: 150 }, { id: 'p-1' });
    expect(matches([{ type: 'order.*', filter: { var: 'data.total' } }], event, (e) => errors.push(e))).toBe(false);
    expect(errors).toEqual([
      {
        agentId: 'a1',
        subscriptionIndex: 0,
        subscriptionType: 'order.*',
        phase: 'evaluate',
        reason: 'non-boolean',
        message: 'returned 150, not a boolean',
        event: { source: 'shop', id: 'p-1', type: 'order.placed' },
      },
    ]);
  });

  it('given a filter that throws, when evaluated, then it does not match and the error is reported, without a crash', () => {
    const errors: SubscriptionFilterError[] = [];
    // json-logic-js throws on `in` over an object whose indexOf is not a function.
    const filter = { in: ['x', { var: 'data.list' }] };
    const event = stored('order.placed', { list: { indexOf: 1 } });
    expect(matches([{ type: 'order.*', filter }], event, (e) => errors.push(e))).toBe(false);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ phase: 'evaluate', reason: 'threw' });
  });

  it('given an error handler that itself throws, when a filter fails, then matching still answers', () => {
    const onError = () => {
      throw new Error('handler broke');
    };
    expect(matches([{ type: '*', filter: { var: 'data' } }], stored('x', {}), onError)).toBe(false);
  });

  it.each([
    ['an unknown operator', { nope: [1, 2] }, 'filter.nope: unknown JSON Logic operator "nope"'],
    ['the console-writing log operator', { log: 'x' }, 'filter.log: the "log" operator is not allowed (it writes to the process console)'],
    ['an empty object', {}, 'filter: must be a JSON Logic operation: an object with exactly one operator key'],
    ['a prototype path', { '==': [{ var: 'data.constructor.name' }, 'Object'] }, 'filter.==[0].var: may not read "constructor"'],
  ])('given a filter with %s, when compiled, then it is reported once and never matches', (_label, filter, message) => {
    const errors: SubscriptionFilterError[] = [];
    const matcher = compileSubscriptions([{ type: '*', filter }], { agentId: 'a1', onError: (e) => errors.push(e) });
    expect(matcher.matches(stored('order.placed', {}))).toBe(false);
    expect(matcher.matches(stored('order.placed', {}))).toBe(false);
    expect(errors).toEqual([
      { agentId: 'a1', subscriptionIndex: 0, subscriptionType: '*', phase: 'compile', reason: 'invalid-filter', message },
    ]);
  });

  it('given an invalid type pattern, when compiled, then it is reported and never matches', () => {
    const errors: SubscriptionFilterError[] = [];
    const matcher = compileSubscriptions([{ type: 'order.*.placed' }], { onError: (e) => errors.push(e) });
    expect(matcher.matches(stored('order.x.placed', {}))).toBe(false);
    expect(errors).toMatchObject([{ phase: 'compile', reason: 'invalid-type', subscriptionType: 'order.*.placed' }]);
  });

  it('given a compiled filter, when the definition object is mutated afterwards, then the compiled matcher is unaffected', () => {
    const filter: Record<string, unknown> = { '==': [{ var: 'data.kind' }, 'a'] };
    const matcher = compileSubscriptions([{ type: '*', filter }]);
    filter['=='] = [{ var: 'data.kind' }, 'b'];
    expect(matcher.matches(stored('x', { kind: 'a' }))).toBe(true);
  });

  it('given a CloudEvent view instead of a stored event, when matched, then the same filter applies', () => {
    const view: CloudEventView = { type: 'order.placed', subject: 's', source: 'shop', id: '1', time: null, data: { total: 500 }, extensions: {} };
    expect(compileSubscriptions([{ type: 'order.*', filter: { '>': [{ var: 'data.total' }, 100] } }]).matches(view)).toBe(true);
  });
});

describe('SubscriptionIndex', () => {
  it('given agents with exact, prefix and wildcard subscriptions, when an event arrives, then exactly the matching agents are returned, sorted', () => {
    const index = new SubscriptionIndex();
    index.set('exact', [{ type: 'order.placed' }]);
    index.set('prefix', [{ type: 'order.*' }]);
    index.set('short-prefix', [{ type: 'ord*' }]);
    index.set('all', [{ type: '*' }]);
    index.set('other', [{ type: 'ticket.*' }, { type: 'order.shipped' }]);
    index.set('filtered', [{ type: 'order.placed', filter: { '>': [{ var: 'data.total' }, 100] } }]);
    expect(index.match(stored('order.placed', { total: 150 }))).toEqual(['all', 'exact', 'filtered', 'prefix', 'short-prefix']);
    expect(index.match(stored('order.placed', { total: 10 }))).toEqual(['all', 'exact', 'prefix', 'short-prefix']);
    expect(index.match(stored('order.shipped', {}))).toEqual(['all', 'other', 'prefix', 'short-prefix']);
    expect(index.match(stored('ticket.opened', {}))).toEqual(['all', 'other']);
    expect(index.match(stored('invoice.paid', {}))).toEqual(['all']);
  });

  it('given an agent with several matching subscriptions, when an event arrives, then it is returned once', () => {
    const index = new SubscriptionIndex();
    index.set('a', [{ type: 'order.placed' }, { type: 'order.*' }, { type: '*' }]);
    expect(index.match(stored('order.placed', {}))).toEqual(['a']);
  });

  it('given many agents, when events arrive, then each gets exactly the events its subscriptions select', () => {
    const index = new SubscriptionIndex();
    const agents = 500;
    for (let i = 0; i < agents; i += 1) {
      const id = `agent-${String(i).padStart(3, '0')}`;
      if (i % 3 === 0) index.set(id, [{ type: `type.${i % 10}` }]);
      else if (i % 3 === 1) index.set(id, [{ type: `type.${i % 10}*` }]);
      else index.set(id, [{ type: 'type.*', filter: { '==': [{ var: 'data.n' }, i % 7] } }]);
    }
    expect(index.size).toBe(agents);
    for (const [type, n] of [['type.3', 3], ['type.10', 0], ['type.7x', 5]] as const) {
      const expected: string[] = [];
      for (let i = 0; i < agents; i += 1) {
        const id = `agent-${String(i).padStart(3, '0')}`;
        const hit = i % 3 === 0 ? type === `type.${i % 10}` : i % 3 === 1 ? type.startsWith(`type.${i % 10}`) : n === i % 7;
        if (hit) expected.push(id);
      }
      expect(index.match(stored(type, { n }))).toEqual(expected);
    }
  });

  it('given an agent whose subscriptions change, when set again, then only the new subscriptions apply', () => {
    const index = new SubscriptionIndex();
    index.set('a', [{ type: 'order.*' }]);
    index.set('a', [{ type: 'ticket.opened' }]);
    expect(index.match(stored('order.placed', {}))).toEqual([]);
    expect(index.match(stored('ticket.opened', {}))).toEqual(['a']);
    expect(index.size).toBe(1);
  });

  it('given unchanged subscriptions, when set again, then they are not recompiled (a compile error is not reported twice)', () => {
    const errors: SubscriptionFilterError[] = [];
    const index = new SubscriptionIndex({ onError: (e) => errors.push(e) });
    index.set('a', [{ type: '*', filter: { nope: 1 } }]);
    index.set('a', [{ type: '*', filter: { nope: 1 } }]);
    expect(errors).toHaveLength(1);
  });

  it('given a removed agent, when an event arrives, then it is no longer returned and others still are', () => {
    const index = new SubscriptionIndex();
    index.set('a', [{ type: 'order.*' }]);
    index.set('b', [{ type: 'order.*' }, { type: 'order.placed' }]);
    expect(index.remove('a')).toBe(true);
    expect(index.remove('a')).toBe(false);
    expect(index.has('a')).toBe(false);
    expect(index.match(stored('order.placed', {}))).toEqual(['b']);
    index.remove('b');
    expect(index.match(stored('order.placed', {}))).toEqual([]);
  });

  it('given a failing filter for one agent, when an event arrives, then other agents are still routed and the failure is reported', () => {
    const errors: SubscriptionFilterError[] = [];
    const index = new SubscriptionIndex({ onError: (e) => errors.push(e) });
    index.set('broken', [{ type: 'order.*', filter: { var: 'data.total' } }]);
    index.set('fine', [{ type: 'order.*', filter: { '>': [{ var: 'data.total' }, 1] } }]);
    expect(index.match(stored('order.placed', { total: 5 }))).toEqual(['fine']);
    expect(errors).toMatchObject([{ agentId: 'broken', phase: 'evaluate', reason: 'non-boolean' }]);
  });

  it('given an event without a CloudEvent envelope, when matched, then no agent gets it', () => {
    const index = new SubscriptionIndex();
    index.set('all', [{ type: '*' }]);
    const event = stored('agent.defined', {});
    const { [CLOUD_EVENT_METADATA_KEY]: _omitted, ...metadata } = event.metadata;
    expect(index.match({ ...event, metadata: metadata as RecordedEvent['metadata'] })).toEqual([]);
  });
});
