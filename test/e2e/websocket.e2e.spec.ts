import { randomUUID } from 'node:crypto';
import { streamName, type CloudEvent, type NewEvent, type RecordedEvent } from '@meridian/domain';
import type { EventMessage, ServerMessage } from '../../apps/gateway/src/realtime/realtime-protocol';
import { ADMIN_KEY, startRealtimeTestApp, type RealtimeTestApp } from './support/realtime-test-app';
import { WsTestClient } from './support/ws-test-client';

jest.setTimeout(60_000);

const TENANT = 'default';
const isEvent = (m: ServerMessage): m is EventMessage => m.type === 'event';
const isIngested = (e: RecordedEvent, tenant = TENANT): boolean =>
  e.streamName.startsWith(`${tenant}/entity-`) || e.streamName.startsWith(`${tenant}/source-`);

function cloudEvent(type: string, subject: string | undefined = `order-${randomUUID()}`, data: unknown = {}): CloudEvent {
  return { specversion: '1.0', id: randomUUID(), source: 'test://shop', type, ...(subject !== undefined ? { subject } : {}), data };
}

function cloudEvents(count: number, type = 'order.placed'): CloudEvent[] {
  return Array.from({ length: count }, (_, i) => cloudEvent(type, `order-${i % 7}`, { i }));
}

function newEvent(type: string, correlationId: string = randomUUID(), data: unknown = {}): NewEvent {
  return {
    eventId: randomUUID(),
    type,
    data,
    metadata: { occurredAt: new Date().toISOString(), correlationId, causationId: null, hop: 1, tenantId: TENANT, actor: { kind: 'system', id: 'test' } },
  };
}

function ascending(positions: readonly number[]): boolean {
  return positions.every((p, i) => i === 0 || p > positions[i - 1]);
}

describe('WebSocket gateway /ws', () => {
  let t: RealtimeTestApp;
  const clients: WsTestClient[] = [];

  async function connect(path = `?apiKey=${ADMIN_KEY}`, headers: Record<string, string> = {}): Promise<WsTestClient> {
    const client = await WsTestClient.connect(`${t.url}${path}`, headers);
    clients.push(client);
    return client;
  }

  /** Every stored event, read straight from the store: the ground truth a channel is compared with. */
  async function stored(predicate: (e: RecordedEvent) => boolean): Promise<RecordedEvent[]> {
    return (await t.store.readAll()).filter(predicate);
  }

  beforeAll(async () => {
    // Small replay pages: the replay of the concurrency case spans many reads, interleaved with the writer.
    t = await startRealtimeTestApp({ replayPageSize: 100 });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await t.close();
  });

  describe('authentication', () => {
    it('closes a connection without credentials with 4401', async () => {
      const client = await connect('');
      await expect(client.closed).resolves.toEqual({ code: 4401, reason: expect.stringContaining('Credentials required') });
    });

    it('closes a connection with an unknown key with 4401', async () => {
      const client = await connect('?apiKey=not-a-key-at-all-0000');
      await expect(client.closed).resolves.toEqual({ code: 4401, reason: 'Invalid credentials' });
    });

    it.each([
      ['the apiKey query parameter', `?apiKey=${ADMIN_KEY}`, {}],
      ['the X-API-Key header', '', { 'X-API-Key': ADMIN_KEY }],
      ['an Authorization: Bearer header', '', { Authorization: `Bearer ${ADMIN_KEY}` }],
    ])('accepts the key in %s', async (_how, path, headers) => {
      const client = await connect(path, headers);
      client.send({ type: 'subscribe', channel: 'events', id: 1 });
      await expect(client.waitForType('subscribed', 'events')).resolves.toMatchObject({ id: 1, position: await t.store.headPosition() });
    });
  });

  describe('replay then live', () => {
    it('delivers every event exactly once, in order, across the replay and the live part while a writer appends', async () => {
      // Stored before the client arrives: the replay part.
      for (let b = 0; b < 10; b++) await t.ingest(cloudEvents(100));
      const client = await connect();

      const writer = (async () => {
        for (let b = 0; b < 40; b++) {
          await t.ingest(cloudEvents(50)); // 2,000 events in batches
          // Not an ingested event: the `events` channel must leave it out.
          await t.store.append(streamName('agent', 'noise', TENANT), [newEvent('agent.noise')], { expected: 'any' });
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      })();
      await new Promise<void>((resolve) => setImmediate(resolve)); // the writer is under way
      client.send({ type: 'subscribe', channel: 'events', fromPosition: 0, id: 'all' });

      const subscribed = await client.waitForType('subscribed', 'events');
      expect(subscribed).toEqual({ type: 'subscribed', channel: 'events', position: 0, id: 'all' });
      await writer;
      const caughtUp = await client.waitForType('caught-up', 'events');
      expect(caughtUp.id).toBe('all');
      // Appended after caught-up: these can only arrive live.
      await t.ingest(cloudEvents(50));

      const expected = await stored((e) => isIngested(e));
      await client.waitForPosition('events', expected[expected.length - 1].position);
      const received = client.events('events');
      expect(received.map((e) => e.position)).toEqual(expected.map((e) => e.position));
      expect(received.map((e) => e.eventId)).toEqual(expected.map((e) => e.eventId));
      expect(ascending(received.map((e) => e.position))).toBe(true);
      expect(new Set(received.map((e) => e.position)).size).toBe(received.length);

      // Both parts were exercised, and caught-up sits between them at the right place.
      const caughtUpIndex = client.indexOf((m) => m.type === 'caught-up');
      const replayed = client.messages.slice(0, caughtUpIndex).filter(isEvent);
      const live = client.messages.slice(caughtUpIndex).filter(isEvent);
      expect(replayed.length).toBeGreaterThanOrEqual(1000);
      expect(live.length).toBeGreaterThanOrEqual(50);
      expect(replayed[replayed.length - 1].position).toBeLessThanOrEqual(caughtUp.position);
      expect(live[0].position).toBeGreaterThan(caughtUp.position);

      // The event message carries the stored event as is.
      const first = received[0];
      const original = expected[0];
      expect(first).toEqual({
        type: 'event',
        channel: 'events',
        position: original.position,
        streamName: original.streamName,
        revision: original.revision,
        eventId: original.eventId,
        eventType: original.type,
        data: original.data,
        metadata: original.metadata,
        recordedAt: original.recordedAt,
      });
    });

    it('gives a client subscribing from a position in the middle exactly the suffix, then live events', async () => {
      await t.ingest(cloudEvents(120));
      const all = await stored((e) => isIngested(e));
      const from = all[Math.floor(all.length / 2)].position;
      const client = await connect();
      client.send({ type: 'subscribe', channel: 'events', fromPosition: from });
      const caughtUp = await client.waitForType('caught-up', 'events');
      expect(caughtUp.position).toBeGreaterThanOrEqual(all[all.length - 1].position);

      await t.ingest(cloudEvents(30));
      const expected = (await stored((e) => isIngested(e))).filter((e) => e.position > from);
      await client.waitForPosition('events', expected[expected.length - 1].position);
      expect(client.events('events').map((e) => e.position)).toEqual(expected.map((e) => e.position));
    });

    it('starts at the head without fromPosition: nothing older, everything newer', async () => {
      await t.ingest(cloudEvents(10));
      const head = await t.store.headPosition();
      const client = await connect();
      client.send({ type: 'subscribe', channel: 'events' });
      expect(await client.waitForType('subscribed', 'events')).toMatchObject({ position: head });
      expect(await client.waitForType('caught-up', 'events')).toMatchObject({ position: head });

      await t.ingest(cloudEvents(5));
      const expected = (await stored((e) => isIngested(e))).filter((e) => e.position > head);
      expect(expected).toHaveLength(5);
      await client.waitForPosition('events', expected[4].position);
      expect(client.events('events').map((e) => e.position)).toEqual(expected.map((e) => e.position));
    });

    it('resumes from the position of the last event received, without loss or repeat', async () => {
      const first = await connect();
      first.send({ type: 'subscribe', channel: 'events' });
      await first.waitForType('caught-up', 'events');
      await t.ingest(cloudEvents(20));
      const batch1 = (await stored((e) => isIngested(e))).slice(-20);
      await first.waitForPosition('events', batch1[19].position);
      await first.close();
      const resumeFrom = first.events('events')[19].position;

      await t.ingest(cloudEvents(15)); // missed while disconnected
      const second = await connect();
      second.send({ type: 'subscribe', channel: 'events', fromPosition: resumeFrom });
      await second.waitForType('caught-up', 'events');
      await t.ingest(cloudEvents(5));
      const missedAndNew = (await stored((e) => isIngested(e))).filter((e) => e.position > resumeFrom);
      expect(missedAndNew).toHaveLength(20);
      await second.waitForPosition('events', missedAndNew[19].position);
      expect(second.events('events').map((e) => e.eventId)).toEqual(missedAndNew.map((e) => e.eventId));
    });
  });

  describe('channels', () => {
    it('events:<prefix> carries only ingested events whose type starts with the prefix', async () => {
      await t.ingest([cloudEvent('shipment.sent'), cloudEvent('shipment.delivered'), cloudEvent('payment.captured'), cloudEvent('shipments.legacy')]);
      // Same type, but not an ingested event.
      await t.store.append(streamName('agent', 'shipper', TENANT), [newEvent('shipment.sent')], { expected: 'any' });
      const client = await connect();
      client.send({ type: 'subscribe', channel: 'events:shipment.', fromPosition: 0 });
      client.send({ type: 'subscribe', channel: 'events:payment.*', fromPosition: 0 });
      await client.waitForType('caught-up', 'events:shipment.');
      await client.waitForType('caught-up', 'events:payment.*');

      // Live: the payment event comes first in the store, so if the shipment channel let it through
      // it would arrive before the shipment event we wait for.
      await t.ingest([cloudEvent('payment.refunded')]);
      await t.ingest([cloudEvent('shipment.returned')]);
      const shipments = await stored((e) => isIngested(e) && e.type.startsWith('shipment.'));
      const payments = await stored((e) => isIngested(e) && e.type.startsWith('payment.'));
      await client.waitForPosition('events:shipment.', shipments[shipments.length - 1].position);
      await client.waitForPosition('events:payment.*', payments[payments.length - 1].position);

      expect(client.events('events:shipment.').map((e) => e.eventType)).toEqual(['shipment.sent', 'shipment.delivered', 'shipment.returned']);
      expect(client.events('events:shipment.').map((e) => e.position)).toEqual(shipments.map((e) => e.position));
      expect(client.events('events:payment.*').map((e) => e.eventType)).toEqual(['payment.captured', 'payment.refunded']);
    });

    it('agent:<id> carries exactly that agent stream', async () => {
      const id = `a-${randomUUID()}`;
      const append = (agentId: string, type: string) => t.store.append(streamName('agent', agentId, TENANT), [newEvent(type)], { expected: 'any' });
      await append(id, 'agent.created');
      await append(`${id}0`, 'agent.created'); // same prefix, another agent
      await append(id, 'agent.paused');
      const client = await connect();
      client.send({ type: 'subscribe', channel: `agent:${id}`, fromPosition: 0 });
      await client.waitForType('caught-up', `agent:${id}`);
      await append(`${id}0`, 'agent.resumed');
      await append(id, 'agent.resumed');

      const own = await stored((e) => e.streamName === `${TENANT}/agent-${id}`);
      await client.waitForPosition(`agent:${id}`, own[own.length - 1].position);
      const received = client.events(`agent:${id}`);
      expect(received.map((e) => e.eventType)).toEqual(['agent.created', 'agent.paused', 'agent.resumed']);
      expect(received.every((e) => e.streamName === `${TENANT}/agent-${id}`)).toBe(true);
      expect(received.map((e) => e.revision)).toEqual([0, 1, 2]);
    });

    it('conversation:<id> carries exactly that conversation stream', async () => {
      const id = randomUUID();
      await t.store.append(streamName('conversation', id, TENANT), [newEvent('conversation.started'), newEvent('conversation.message-posted')], { expected: 'no_stream' });
      await t.store.append(streamName('conversation', randomUUID(), TENANT), [newEvent('conversation.started')], { expected: 'no_stream' });
      const client = await connect();
      client.send({ type: 'subscribe', channel: `conversation:${id}`, fromPosition: 0 });
      await client.waitForType('caught-up', `conversation:${id}`);
      expect(client.events(`conversation:${id}`).map((e) => e.eventType)).toEqual(['conversation.started', 'conversation.message-posted']);
    });

    it('chain:<correlationId> carries every event of the chain, whatever its stream', async () => {
      const chain = randomUUID();
      await t.store.append(streamName('entity', `order-${chain}`, TENANT), [newEvent('order.placed', chain)], { expected: 'any' });
      await t.store.append(streamName('agent', 'watcher', TENANT), [newEvent('agent.decision-recorded', chain), newEvent('agent.decision-recorded', randomUUID())], { expected: 'any' });
      const client = await connect();
      client.send({ type: 'subscribe', channel: `chain:${chain}`, fromPosition: 0 });
      await client.waitForType('caught-up', `chain:${chain}`);
      await t.store.append(streamName('conversation', `c-${chain}`, TENANT), [newEvent('conversation.reply-posted', randomUUID())], { expected: 'any' });
      await t.store.append(streamName('conversation', `c-${chain}`, TENANT), [newEvent('conversation.reply-posted', chain)], { expected: 'any' });

      const inChain = await stored((e) => e.metadata.correlationId === chain);
      expect(inChain).toHaveLength(3);
      await client.waitForPosition(`chain:${chain}`, inChain[2].position);
      const received = client.events(`chain:${chain}`);
      expect(received.map((e) => e.position)).toEqual(inChain.map((e) => e.position));
      expect(received.map((e) => e.eventType)).toEqual(['order.placed', 'agent.decision-recorded', 'conversation.reply-posted']);
    });

    it('never shows another tenant’s events', async () => {
      const otherKey = 'acme-tenant-key-0123456789';
      await t.apiKeys.ensureAdminKey('acme', otherKey);
      const ours = await connect();
      const theirs = await connect(`?apiKey=${otherKey}`);
      for (const client of [ours, theirs]) {
        client.send({ type: 'subscribe', channel: 'events' });
        client.send({ type: 'subscribe', channel: 'chain:shared-chain' });
        await client.waitForType('caught-up', 'events');
        await client.waitForType('caught-up', 'chain:shared-chain');
      }
      await t.ingest([cloudEvent('order.placed', 'acme-order')], 'acme');
      await t.store.append('acme/agent-x', [{ ...newEvent('agent.created', 'shared-chain'), metadata: { ...newEvent('x').metadata, tenantId: 'acme', correlationId: 'shared-chain' } }], { expected: 'any' });
      await t.ingest([cloudEvent('order.placed', 'our-order')]);
      await t.store.append(streamName('agent', 'x', TENANT), [newEvent('agent.created', 'shared-chain')], { expected: 'any' });

      const [acmeIngested] = await stored((e) => isIngested(e, 'acme'));
      const acmeChain = await stored((e) => e.streamName === 'acme/agent-x');
      const ourIngested = await stored((e) => isIngested(e));
      const ourChain = await stored((e) => e.streamName === `${TENANT}/agent-x`);
      await theirs.waitForPosition('events', acmeIngested.position);
      await theirs.waitForPosition('chain:shared-chain', acmeChain[0].position);
      await ours.waitForPosition('events', ourIngested[ourIngested.length - 1].position);
      await ours.waitForPosition('chain:shared-chain', ourChain[0].position);

      // Each side's later event arrived, so the other side's earlier one would have arrived first.
      expect(ours.events('events').map((e) => e.streamName)).toEqual([`${TENANT}/entity-our-order`]);
      expect(ours.events('chain:shared-chain').map((e) => e.streamName)).toEqual([`${TENANT}/agent-x`]);
      expect(theirs.events('events').map((e) => e.streamName)).toEqual(['acme/entity-acme-order']);
      expect(theirs.events('chain:shared-chain').map((e) => e.streamName)).toEqual(['acme/agent-x']);
    });

    it('stops delivering after unsubscribe', async () => {
      const client = await connect();
      client.send({ type: 'subscribe', channel: 'events:unsub.' });
      client.send({ type: 'subscribe', channel: 'events:marker.' });
      await client.waitForType('caught-up', 'events:unsub.');
      await client.waitForType('caught-up', 'events:marker.');
      await t.ingest([cloudEvent('unsub.one')]);
      await client.waitFor((m) => isEvent(m) && m.eventType === 'unsub.one', 'unsub.one');
      client.send({ type: 'unsubscribe', channel: 'events:unsub.', id: 'u' });
      expect(await client.waitForType('unsubscribed', 'events:unsub.')).toEqual({ type: 'unsubscribed', channel: 'events:unsub.', id: 'u' });
      await t.ingest([cloudEvent('unsub.two')]);
      await t.ingest([cloudEvent('marker.after')]);
      await client.waitFor((m) => isEvent(m) && m.eventType === 'marker.after', 'marker.after');
      expect(client.events('events:unsub.').map((e) => e.eventType)).toEqual(['unsub.one']);
    });
  });

  describe('errors keep the connection open', () => {
    it('answers bad requests with an error and goes on serving', async () => {
      const client = await connect();
      const next = async (raw: unknown) => {
        const before = client.messages.length;
        client.send(raw);
        return client.waitFor((m) => client.messages.indexOf(m) >= before && m.type === 'error', 'an error');
      };

      expect(await next({ type: 'subscribe', channel: 'orders', id: 'bad' })).toMatchObject({ type: 'error', code: 'INVALID_CHANNEL', channel: 'orders', id: 'bad', detail: expect.stringContaining('Unknown channel') });
      expect(await next({ type: 'subscribe', channel: 'agent:' })).toMatchObject({ code: 'INVALID_CHANNEL' });
      expect(await next({ type: 'subscribe', channel: 'agent:a b' })).toMatchObject({ code: 'INVALID_CHANNEL' });
      expect(await next({ type: 'subscribe', channel: 'events:' })).toMatchObject({ code: 'INVALID_CHANNEL' });
      expect(await next('{"type": "subscribe", "channel": ')).toMatchObject({ code: 'MALFORMED_MESSAGE' });
      expect(await next('[1, 2]')).toMatchObject({ code: 'MALFORMED_MESSAGE' });
      expect(await next({ channel: 'events' })).toMatchObject({ code: 'MALFORMED_MESSAGE' });
      expect(await next({ type: 'message', conversationId: 'c', content: 'hi', id: 7 })).toMatchObject({ code: 'UNKNOWN_MESSAGE_TYPE', id: 7 });
      expect(await next({ type: 'subscribe', channel: 'events', fromPosition: -1 })).toMatchObject({
        code: 'VALIDATION_FAILED',
        errors: [expect.objectContaining({ path: '/fromPosition' })],
      });
      expect(await next({ type: 'subscribe', channel: 'events', extra: true })).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: '/extra', message: 'unknown field' }] });
      expect(await next({ type: 'unsubscribe', channel: 'events' })).toMatchObject({ code: 'NOT_SUBSCRIBED' });

      client.send({ type: 'subscribe', channel: 'events:still-open.', fromPosition: 0 });
      await client.waitForType('caught-up', 'events:still-open.');
      expect(await next({ type: 'subscribe', channel: 'events:still-open.' })).toMatchObject({ code: 'ALREADY_SUBSCRIBED' });
      await t.ingest([cloudEvent('still-open.yes')]);
      await expect(client.waitFor((m) => isEvent(m) && m.eventType === 'still-open.yes', 'a live event')).resolves.toMatchObject({ channel: 'events:still-open.' });
    });
  });
});

describe('WebSocket gateway /ws backpressure', () => {
  let t: RealtimeTestApp;

  beforeAll(async () => {
    t = await startRealtimeTestApp({ maxBufferedBytes: 256 * 1024 });
  });

  afterAll(async () => {
    await t.close();
  });

  it('closes a client that does not read live events with 1013 instead of buffering without bound', async () => {
    const slow = await WsTestClient.connect(`${t.url}?apiKey=${ADMIN_KEY}`);
    slow.send({ type: 'subscribe', channel: 'events' });
    await slow.waitForType('caught-up', 'events');
    slow.socket.pause(); // stops reading: the server's backlog for it can only grow

    // Far more than the OS socket buffers absorb, in more than one feed batch.
    const payload = 'x'.repeat(32 * 1024);
    for (let b = 0; b < 60; b++) {
      await t.ingest(Array.from({ length: 20 }, () => cloudEvent('bulk.loaded', `bulk-${b}`, { payload })));
    }
    await waitUntil(() => t.gateway.stats().closedForBackpressure === 1, 'the server to close the slow client');

    slow.socket.resume();
    await expect(slow.closed).resolves.toEqual({ code: 1013, reason: expect.stringContaining('not keeping up') });
    expect(slow.events('events').length).toBeLessThan(1200);
  });
});

/** Waits for a condition the test cannot observe as a message (server-side state). */
async function waitUntil(condition: () => boolean, description: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${description}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
}
