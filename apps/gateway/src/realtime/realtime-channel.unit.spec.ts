import type { RecordedEvent } from '@meridian/domain';
import { parseChannel, type RealtimeChannel } from './realtime-channel';

function recorded(streamName: string, type = 'order.placed', correlationId = 'c-1'): RecordedEvent {
  return {
    streamName,
    revision: 0,
    position: 1,
    eventId: 'e-1',
    type,
    data: {},
    metadata: { occurredAt: '2026-01-01T00:00:00.000Z', correlationId, causationId: null, hop: 0, tenantId: streamName.split('/')[0], actor: { kind: 'system', id: 't' } },
    schemaVersion: 1,
    recordedAt: '2026-01-01T00:00:00.000Z',
  };
}

function channel(name: string, tenantId = 'acme'): RealtimeChannel {
  const parsed = parseChannel(name, tenantId);
  if (!parsed.ok) throw new Error(parsed.detail);
  return parsed.channel;
}

/** The store filter must let through everything the exact rule accepts (it may let through more). */
function expectFilterCovers(c: RealtimeChannel, event: RecordedEvent): void {
  const prefixes = c.filter.streamPrefixes ?? [];
  expect(prefixes.length === 0 || prefixes.some((p) => event.streamName.startsWith(p))).toBe(true);
}

describe('parseChannel', () => {
  it('events: ingested events of the tenant only', () => {
    const c = channel('events');
    expect(c.matches(recorded('acme/entity-order-1'))).toBe(true);
    expect(c.matches(recorded('acme/source-urn:shop'))).toBe(true);
    expect(c.matches(recorded('acme/agent-a1'))).toBe(false);
    expect(c.matches(recorded('other/entity-order-1'))).toBe(false);
    expectFilterCovers(c, recorded('acme/entity-order-1'));
  });

  it.each(['events:order.', 'events:order.*'])('%s: ingested events whose type starts with "order."', (name) => {
    const c = channel(name);
    expect(c.name).toBe(name);
    expect(c.matches(recorded('acme/entity-o', 'order.placed'))).toBe(true);
    expect(c.matches(recorded('acme/entity-o', 'orders.placed'))).toBe(false);
    expect(c.matches(recorded('acme/agent-o', 'order.placed'))).toBe(false);
    expect(c.matches(recorded('other/entity-o', 'order.placed'))).toBe(false);
  });

  it('agent:<id>: exactly that stream, not one whose id merely starts the same', () => {
    const c = channel('agent:a1');
    expect(c.matches(recorded('acme/agent-a1'))).toBe(true);
    expect(c.matches(recorded('acme/agent-a10'))).toBe(false);
    expect(c.matches(recorded('other/agent-a1'))).toBe(false);
    expect(c.matches(recorded('acme/conversation-a1'))).toBe(false);
    expectFilterCovers(c, recorded('acme/agent-a1'));
  });

  it('conversation:<id>: exactly that stream', () => {
    const c = channel('conversation:7f0c');
    expect(c.matches(recorded('acme/conversation-7f0c'))).toBe(true);
    expect(c.matches(recorded('acme/conversation-7f0c-2'))).toBe(false);
  });

  it('chain:<id>: any stream of the tenant with that correlation id, never API key records', () => {
    const c = channel('chain:req:42');
    expect(c.matches(recorded('acme/agent-a1', 'agent.decided', 'req:42'))).toBe(true);
    expect(c.matches(recorded('acme/entity-o', 'order.placed', 'req:42'))).toBe(true);
    expect(c.matches(recorded('acme/entity-o', 'order.placed', 'req:43'))).toBe(false);
    expect(c.matches(recorded('other/agent-a1', 'agent.decided', 'req:42'))).toBe(false);
    expect(c.matches(recorded('acme/apikey-k1', 'api-key.issued', 'req:42'))).toBe(false);
    expectFilterCovers(c, recorded('acme/agent-a1', 'agent.decided', 'req:42'));
  });

  it.each(['', 'orders', 'events:', 'events:*', 'events:has space', 'agent', 'agent:', 'agent:a/b', 'conversation:', 'chain:', `agent:${'x'.repeat(129)}`, 'Events'])(
    'rejects %j',
    (name) => {
      expect(parseChannel(name, 'acme')).toEqual({ ok: false, detail: expect.any(String) });
    },
  );
});
