import type { RecordedEvent } from '@meridian/domain';
import { decodeRealtimeMessage, encodeRealtimeMessage, RealtimeWireError, type RealtimeBatchMessage } from './redis-realtime.codec';

function recorded(position: number, data: unknown, metadataExtra: Record<string, unknown> = {}): RecordedEvent {
  return {
    streamName: 'default/thing-1',
    revision: position - 1,
    position,
    eventId: `event-${position}`,
    type: 'thing.happened',
    data,
    metadata: {
      occurredAt: '2026-03-01T12:00:00.000Z',
      correlationId: 'corr-1',
      causationId: null,
      hop: 0,
      tenantId: 'default',
      actor: { kind: 'system', id: 'codec' },
      ...metadataExtra,
    },
    schemaVersion: 2,
    recordedAt: '2026-03-01T12:00:00.123Z',
  };
}

function roundTrip(message: RealtimeBatchMessage): RealtimeBatchMessage {
  const decoded = decodeRealtimeMessage(encodeRealtimeMessage(message));
  if (decoded.kind !== 'batch') throw new Error(`expected a batch, got ${decoded.kind}`);
  return decoded;
}

describe('realtime wire codec', () => {
  it('decodes a batch of JSON events to exactly what was encoded', () => {
    const message: RealtimeBatchMessage = {
      kind: 'batch',
      relayId: 'relay-1',
      after: 41,
      events: [recorded(42, { text: 'héllo ✓', n: 1.5, list: [1, 'two', null, { deep: true }] }, { traceparent: '00-abc-def-01' }), recorded(45, null)],
    };
    expect(roundTrip(message)).toStrictEqual(message);
  });

  it('keeps values JSON cannot spell: Dates, undefined, -0, non-finite numbers, bigints', () => {
    const data = {
      at: new Date('2026-03-01T12:00:00.007Z'),
      far: new Date(Date.UTC(20000, 0, 1)),
      missing: undefined,
      list: [undefined, new Date(0), -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
      big: 12345678901234567890n,
    };
    const decoded = roundTrip({ kind: 'batch', relayId: 'r', after: 0, events: [recorded(1, data, { receivedAt: new Date(5) })] });
    expect(decoded.events[0]).toStrictEqual(recorded(1, data, { receivedAt: new Date(5) }));
    const back = decoded.events[0].data as typeof data;
    expect(back.at).toBeInstanceOf(Date);
    expect(back.at.getTime()).toBe(data.at.getTime());
    expect(Object.prototype.hasOwnProperty.call(back, 'missing')).toBe(true);
    expect(Object.is(back.list[2], -0)).toBe(true);
  });

  it('keeps an invalid Date an invalid Date (deep equality cannot say so: NaN is not NaN)', () => {
    const decoded = roundTrip({ kind: 'batch', relayId: 'r', after: 0, events: [recorded(1, { invalid: new Date(Number.NaN) })] });
    const back = (decoded.events[0].data as { invalid: Date }).invalid;
    expect(back).toBeInstanceOf(Date);
    expect(back.getTime()).toBeNaN();
  });

  it('never reads user data that looks like a tag as a tag', () => {
    const data = { $t: 'date', v: 0, nested: { $t: 'undef' }, list: [{ $t: 'obj', v: { $t: 'num', v: '-0' } }], ['__proto__']: { polluted: true } };
    // A literal `__proto__` key (as JSON.parse makes it) must stay an own property.
    const withProtoKey = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}') as Record<string, unknown>;
    const decoded = roundTrip({ kind: 'batch', relayId: 'r', after: 0, events: [recorded(1, data), recorded(2, withProtoKey)] });
    expect(decoded.events[0].data).toStrictEqual(data);
    expect(decoded.events[1].data).toStrictEqual(withProtoKey);
    expect(Object.keys(decoded.events[1].data as object)).toEqual(['__proto__', 'x']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('round-trips gap messages', () => {
    expect(decodeRealtimeMessage(encodeRealtimeMessage({ kind: 'gap', relayId: 'relay-2', after: 17 }))).toEqual({ kind: 'gap', relayId: 'relay-2', after: 17 });
  });

  it('refuses values it cannot restore faithfully rather than publish something else', () => {
    const encode = (data: unknown) => () => encodeRealtimeMessage({ kind: 'batch', relayId: 'r', after: 0, events: [recorded(1, data)] });
    expect(encode({ map: new Map([['a', 1]]) })).toThrow(/event\.data\.map is a Map/);
    expect(encode({ f: () => 1 })).toThrow(RealtimeWireError);
    expect(encode([Symbol('s')])).toThrow(RealtimeWireError);
  });

  it.each([
    ['not JSON', '{'],
    ['another version', JSON.stringify({ v: 2, kind: 'gap', relayId: 'r', after: 1 })],
    ['an unknown kind', JSON.stringify({ v: 1, kind: 'reset', relayId: 'r', after: 1 })],
    ['a negative position', JSON.stringify({ v: 1, kind: 'gap', relayId: 'r', after: -1 })],
    ['a batch without events', JSON.stringify({ v: 1, kind: 'batch', relayId: 'r', after: 1 })],
    ['an event without a position', JSON.stringify({ v: 1, kind: 'batch', relayId: 'r', after: 0, events: [{ ...recorded(1, null), position: 'x' }] })],
    ['events out of order', JSON.stringify({ v: 1, kind: 'batch', relayId: 'r', after: 0, events: [recorded(3, null), recorded(2, null)] })],
    ['an event at or below `after`', JSON.stringify({ v: 1, kind: 'batch', relayId: 'r', after: 5, events: [recorded(5, null)] })],
    ['an unknown tag', JSON.stringify({ v: 1, kind: 'batch', relayId: 'r', after: 0, events: [{ ...recorded(1, null), data: { $t: 'regexp', v: 'a' } }] })],
  ])('rejects %s', (_case, text) => {
    expect(() => decodeRealtimeMessage(text)).toThrow(RealtimeWireError);
  });
});
