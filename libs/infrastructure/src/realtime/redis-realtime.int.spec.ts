import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ReplyToken } from '@meridian/agents';
import { describeRedis, REDIS_URL } from '../../../../test/support/services';
import { InMemoryEventStore } from '../event-store/in-memory-event-store';
import { encodeRealtimeMessage } from './redis-realtime.codec';
import { RedisRealtimeFeed, type RealtimeGapReason, type RedisRealtimeFeedErrorContext } from './redis-realtime.feed';
import { RedisRealtimeRelay } from './redis-realtime.publisher';
import { RedisTokenStream } from './redis-token.stream';
import { commitOne, feedCollector, realtimeFeedConformance, strictlyIncreasing } from './realtime-feed.conformance';

/** One prefix per test: tests (and suites running at once) share the server but never a channel. */
const uniquePrefix = () => `meridian-test-${randomUUID()}`;

/** Things to stop after each test, newest first. */
const stoppers: Array<() => Promise<unknown> | unknown> = [];
async function stopAll(): Promise<void> {
  for (const stop of stoppers.splice(0).reverse()) await stop();
}

interface FeedProbe {
  readonly feed: RedisRealtimeFeed;
  readonly errors: Array<{ error: unknown; context: RedisRealtimeFeedErrorContext }>;
  /** Gaps signalled while listeners were attached. */
  readonly gaps: RealtimeGapReason[];
  /** Relay announcements received, with or without listeners (see startRelay). */
  readonly announcements: number;
  readonly connectionName: string;
}

async function startFeed(prefix: string): Promise<FeedProbe> {
  const errors: FeedProbe['errors'] = [];
  const gaps: RealtimeGapReason[] = [];
  let announcements = 0;
  const connectionName = `${prefix}:feed-${randomUUID().slice(0, 8)}`;
  const feed = new RedisRealtimeFeed({
    redis: REDIS_URL,
    prefix,
    connectionName,
    onError: (error, context) => errors.push({ error, context }),
    onGap: (reason) => {
      if (reason === 'relay') announcements++;
      if (feed.listenerCount > 0) gaps.push(reason);
    },
  });
  stoppers.push(() => feed.stop());
  await feed.start();
  return {
    feed,
    errors,
    gaps,
    get announcements() {
      return announcements;
    },
    connectionName,
  };
}

/**
 * Starts a relay and waits until `feeds` have received its gap announcement: PUBLISH returns to the
 * relay before a subscriber in this process has necessarily read the message, and a listener
 * attached in between would (rightly) be told of the gap.
 */
async function startRelay(prefix: string, store: InMemoryEventStore, feeds: readonly FeedProbe[], redis: Redis | string = REDIS_URL): Promise<RedisRealtimeRelay> {
  const relay = new RedisRealtimeRelay({ redis, prefix, store });
  stoppers.push(() => relay.stop());
  const announced = feeds.map((f) => f.announcements + 1);
  await relay.start();
  await eventually(() => feeds.every((f, i) => f.announcements >= announced[i]), 'every feed received the relay announcement');
  return relay;
}

function newStore(): InMemoryEventStore {
  const store = new InMemoryEventStore({ retryInitialDelayMs: 10 });
  stoppers.push(() => store.close());
  return store;
}

function adminClient(): Redis {
  const admin = new Redis(REDIS_URL);
  stoppers.push(() => admin.quit());
  return admin;
}

/** Drops one connection, found by its CLIENT SETNAME, from the server side. */
async function killConnection(admin: Redis, name: string): Promise<void> {
  const list = String(await admin.call('CLIENT', 'LIST'));
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1]);
  expect(ids).toHaveLength(1);
  await admin.call('CLIENT', 'KILL', 'ID', String(ids[0]));
}

async function eventually(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const describeWithRedis = describeRedis();

describeWithRedis('Redis realtime fan-out (relay + feed)', () => {
  afterEach(stopAll);

  realtimeFeedConformance('RedisRealtimeRelay + RedisRealtimeFeed', async () => {
    const prefix = uniquePrefix();
    const store = new InMemoryEventStore({ retryInitialDelayMs: 10 });
    const listenerErrors: unknown[] = [];
    let announced = false;
    const feed = new RedisRealtimeFeed({
      redis: REDIS_URL,
      prefix,
      onError: (error, context) => {
        if (context === 'listener') listenerErrors.push(error);
      },
      onGap: (reason) => {
        if (reason === 'relay') announced = true;
      },
    });
    const relay = new RedisRealtimeRelay({ redis: REDIS_URL, prefix, store });
    await feed.start();
    await relay.start();
    // Ready means the feed has taken in the relay's start (see startRelay).
    await eventually(() => announced, 'the feed received the relay announcement');
    return {
      store,
      feed,
      listenerErrors,
      cleanup: async () => {
        await relay.stop();
        await feed.stop();
        await store.close();
      },
    };
  });

  it('refuses listeners before start, and says when it is connected', async () => {
    const feed = new RedisRealtimeFeed({ redis: REDIS_URL, prefix: uniquePrefix() });
    stoppers.push(() => feed.stop());
    expect(() => feed.listen(() => undefined)).toThrow(/before start/);
    expect(feed.connected).toBe(false);
    await feed.start();
    expect(feed.connected).toBe(true);
    await feed.stop();
    expect(feed.connected).toBe(false);
  });

  it('stops at once when stopped while Redis is unreachable, failing the start under way', async () => {
    const unreachable = 'redis://127.0.0.1:1';
    const store = newStore();
    const feed = new RedisRealtimeFeed({ redis: unreachable, prefix: uniquePrefix() });
    const relay = new RedisRealtimeRelay({ redis: unreachable, prefix: uniquePrefix(), store });
    const starts = [feed.start(), relay.start()].map((p) => p.then(() => 'started', () => 'failed'));
    // Long enough for ioredis to have failed and be retrying, far less than its retries take to give up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopping = Date.now();
    await Promise.all([feed.stop(), relay.stop()]);
    expect(Date.now() - stopping).toBeLessThan(1000);
    expect(await Promise.all(starts)).toEqual(['failed', 'failed']);
    expect(feed.connected).toBe(false);
    expect(relay.connected).toBe(false);
  });

  it('fans what one relay publishes out to every replica, identically', async () => {
    const prefix = uniquePrefix();
    const store = newStore();
    const replicas = [await startFeed(prefix), await startFeed(prefix)];
    await startRelay(prefix, store, replicas);
    const collectors = replicas.map((r, i) => {
      const c = feedCollector(`replica-${i}`);
      r.feed.listen(c.listener, c.options);
      return c;
    });
    const positions = await Promise.all(Array.from({ length: 10 }, (_, i) => commitOne(store, { i, at: new Date(0).toISOString() })));
    const last = Math.max(...positions);
    await Promise.all(collectors.map((c) => c.until(last)));
    const stored = await store.readAll();
    for (const c of collectors) {
      expect(c.events).toEqual(stored);
      expect(c.gaps).toBe(0);
    }
    for (const r of replicas) expect(r.errors).toEqual([]);
  });

  it('has every replica signal a gap when a relay starts after events went unpublished, and carries on live', async () => {
    const prefix = uniquePrefix();
    const store = newStore();
    const replicas = [await startFeed(prefix), await startFeed(prefix)];
    const first = await startRelay(prefix, store, replicas);
    const collectors = replicas.map((r, i) => {
      const c = feedCollector(`replica-${i}`);
      r.feed.listen(c.listener, c.options);
      return c;
    });
    const seen = await commitOne(store);
    await Promise.all(collectors.map((c) => c.until(seen)));

    await first.stop();
    const unpublished = [await commitOne(store), await commitOne(store)];
    await startRelay(prefix, store, replicas);
    await Promise.all(collectors.map((c) => c.untilGaps(1)));
    const live = await commitOne(store);
    await Promise.all(collectors.map((c) => c.until(live)));

    for (const [i, c] of collectors.entries()) {
      // The gap is how listeners learn of what no relay published: they read it from the store.
      expect(c.positions).toEqual([seen, live]);
      expect(c.gaps).toBe(1);
      expect(replicas[i].gaps).toEqual(['relay']);
      const caughtUp = await store.readAll({ after: seen });
      expect(caughtUp.map((e) => e.position)).toEqual([...unpublished, live]);
    }
  });

  it('signals no gap when a relay restarts with nothing committed in between', async () => {
    const prefix = uniquePrefix();
    const store = newStore();
    const replica = await startFeed(prefix);
    const first = await startRelay(prefix, store, [replica]);
    const collector = feedCollector();
    replica.feed.listen(collector.listener, collector.options);
    const before = await commitOne(store);
    await collector.until(before);
    await first.stop();
    // Nothing to wait for: its announcement reaches the feed before the batch that follows it.
    const second = await startRelay(prefix, store, []);
    expect(second.publishedPosition).toBe(before);
    const after = await commitOne(store);
    await collector.until(after);
    expect(collector.positions).toEqual([before, after]);
    expect(collector.gaps).toBe(0);
  });

  it('signals a gap once its own dropped connection is subscribed again, and delivers from then on', async () => {
    const prefix = uniquePrefix();
    const store = newStore();
    const dropped = await startFeed(prefix);
    const steady = await startFeed(prefix);
    await startRelay(prefix, store, [dropped, steady]);
    const droppedCollector = feedCollector('dropped');
    const steadyCollector = feedCollector('steady');
    dropped.feed.listen(droppedCollector.listener, droppedCollector.options);
    steady.feed.listen(steadyCollector.listener, steadyCollector.options);
    const before = await commitOne(store);
    await droppedCollector.until(before);

    await killConnection(adminClient(), dropped.connectionName);
    await droppedCollector.untilGaps(1);
    expect(dropped.feed.connected).toBe(true);
    const after = await commitOne(store);
    await droppedCollector.until(after);
    await steadyCollector.until(after);

    expect(droppedCollector.gaps).toBe(1);
    expect(dropped.gaps).toEqual(['reconnect']);
    expect(strictlyIncreasing(droppedCollector.positions)).toBe(true);
    expect(droppedCollector.positions).toContain(before);
    expect(steadyCollector.gaps).toBe(0);
    expect(steadyCollector.positions).toEqual([before, after]);
  });

  it('reports it is not connected while its connection is down', async () => {
    const replica = await startFeed(uniquePrefix());
    let sawDown = false;
    const watch = setInterval(() => {
      if (!replica.feed.connected) sawDown = true;
    }, 1);
    stoppers.push(() => clearInterval(watch));
    const collector = feedCollector();
    replica.feed.listen(collector.listener, collector.options);
    await killConnection(adminClient(), replica.connectionName);
    await collector.untilGaps(1);
    expect(sawDown).toBe(true);
    expect(replica.feed.connected).toBe(true);
  });

  it('loses nothing when the relay’s own connection drops: publishing resumes once it is back', async () => {
    const prefix = uniquePrefix();
    const store = newStore();
    const replica = await startFeed(prefix);
    const relayName = `${prefix}:relay`;
    const relayClient = new Redis(REDIS_URL, { connectionName: relayName });
    stoppers.push(() => relayClient.quit());
    const relay = await startRelay(prefix, store, [replica], relayClient);
    const collector = feedCollector();
    replica.feed.listen(collector.listener, collector.options);
    const first = await commitOne(store);
    await collector.until(first);

    await killConnection(adminClient(), relayName);
    const during = await Promise.all(Array.from({ length: 5 }, () => commitOne(store)));
    const last = Math.max(...during);
    await collector.until(last);

    expect(collector.positions).toEqual([first, ...during.sort((a, b) => a - b)]);
    expect(collector.gaps).toBe(0);
    expect(relay.publishedPosition).toBe(last);
    // The relay was given a client: stopping it leaves that client to its owner.
    await relay.stop();
    expect(relayClient.status).toBe('ready');
  });

  it('signals a gap for a batch that does not follow the last one, and for a message it cannot read', async () => {
    const prefix = uniquePrefix();
    const replica = await startFeed(prefix);
    const collector = feedCollector();
    replica.feed.listen(collector.listener, collector.options);
    const publisher = adminClient();
    const channel = `${prefix}:events`;
    const event = (position: number) => ({
      streamName: 'default/thing-1',
      revision: position,
      position,
      eventId: randomUUID(),
      type: 'thing.happened',
      data: {},
      metadata: { occurredAt: '2026-03-01T12:00:00.000Z', correlationId: 'c', causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'system' as const, id: 't' } },
      schemaVersion: 1,
      recordedAt: '2026-03-01T12:00:00.000Z',
    });
    await publisher.publish(channel, encodeRealtimeMessage({ kind: 'gap', relayId: 'r', after: 10 }));
    await publisher.publish(channel, encodeRealtimeMessage({ kind: 'batch', relayId: 'r', after: 10, events: [event(11), event(12)] }));
    // 13 and 14 were never received.
    await publisher.publish(channel, encodeRealtimeMessage({ kind: 'batch', relayId: 'r', after: 14, events: [event(15)] }));
    // A batch published twice (a retried PUBLISH): nothing is delivered twice.
    await publisher.publish(channel, encodeRealtimeMessage({ kind: 'batch', relayId: 'r', after: 14, events: [event(15)] }));
    await publisher.publish(channel, 'not a realtime message');
    await publisher.publish(channel, encodeRealtimeMessage({ kind: 'batch', relayId: 'r', after: 15, events: [event(16)] }));
    await collector.until(16);

    expect(collector.positions).toEqual([11, 12, 15, 16]);
    expect(replica.gaps).toEqual(['relay', 'sequence', 'undecodable']);
    expect(collector.gaps).toBe(3);
    expect(replica.errors.map((e) => e.context)).toEqual(['message']);
  });

  it('keeps deployments with different prefixes apart', async () => {
    const [prefixA, prefixB] = [uniquePrefix(), uniquePrefix()];
    const [storeA, storeB] = [newStore(), newStore()];
    const replicaA = await startFeed(prefixA);
    const replicaB = await startFeed(prefixB);
    await startRelay(prefixA, storeA, [replicaA]);
    const relayB = await startRelay(prefixB, storeB, [replicaB]);
    const a = feedCollector('a');
    const b = feedCollector('b');
    replicaA.feed.listen(a.listener, a.options);
    replicaB.feed.listen(b.listener, b.options);

    const fromA = await commitOne(storeA, { deployment: 'a' });
    await a.until(fromA);
    // B restarts its relay after an unpublished commit: only B's replicas are told of a gap.
    await relayB.stop();
    await commitOne(storeB, { deployment: 'b' });
    await startRelay(prefixB, storeB, [replicaB]);
    await b.untilGaps(1);
    const fromB = await commitOne(storeB, { deployment: 'b' });
    await b.until(fromB);
    const laterA = await commitOne(storeA, { deployment: 'a' });
    await a.until(laterA);

    expect(a.events.map((e) => e.data)).toEqual([{ deployment: 'a' }, { deployment: 'a' }]);
    expect(b.events.map((e) => e.data)).toEqual([{ deployment: 'b' }]);
    expect(a.gaps).toBe(0);
  });
});

describeWithRedis('RedisTokenStream', () => {
  afterEach(stopAll);

  function tokenStream(prefix: string, errors: Array<{ error: unknown; context: string }> = []): RedisTokenStream {
    const stream = new RedisTokenStream({ redis: REDIS_URL, prefix, onError: (error, context) => errors.push({ error, context }) });
    stoppers.push(() => stream.stop());
    return stream;
  }

  const token = (delta: string, conversationId = 'conv-1'): ReplyToken => ({ tenantId: 'default', conversationId, messageId: 'msg-1', agentId: 'agent-1', delta });

  it('delivers what one instance publishes to the listeners of every other, in order, and not across prefixes', async () => {
    const prefix = uniquePrefix();
    const runtime = tokenStream(prefix);
    const gateways = [tokenStream(prefix), tokenStream(prefix)];
    const elsewhere = tokenStream(uniquePrefix());
    const received: ReplyToken[][] = [[], [], []];
    gateways[0].listen((t) => received[0].push(t));
    gateways[0].listen((t) => received[1].push(t));
    gateways[1].listen((t) => received[2].push(t));
    const elsewhereReceived: ReplyToken[] = [];
    elsewhere.listen((t) => elsewhereReceived.push(t));
    await Promise.all([runtime.start(), elsewhere.start(), ...gateways.map((g) => g.whenListening()), elsewhere.whenListening()]);

    const deltas = ['Hel', 'lo', ', ', 'wörld ✓'];
    for (const delta of deltas) runtime.publish(token(delta));
    await eventually(() => received.every((r) => r.length === deltas.length), 'every listener received every token');
    for (const r of received) expect(r).toEqual(deltas.map((d) => token(d)));

    // Published after the others on the same connection: had `elsewhere` heard prefix one, it would have by now.
    elsewhere.publish(token('other deployment', 'conv-2'));
    await eventually(() => elsewhereReceived.length === 1, 'the other deployment received its own token');
    expect(elsewhereReceived).toEqual([token('other deployment', 'conv-2')]);
    expect(received[0]).toHaveLength(deltas.length);
  });

  it('never throws into the publisher: tokens it cannot send are dropped, counted and reported once', async () => {
    const errors: Array<{ error: unknown; context: string }> = [];
    const unreachable = new RedisTokenStream({ redis: 'redis://127.0.0.1:1', prefix: uniquePrefix(), onError: (error, context) => errors.push({ error, context }) });
    stoppers.push(() => unreachable.stop());
    expect(() => unreachable.publish(token('a'))).not.toThrow();
    expect(() => unreachable.publish(token('b'))).not.toThrow();
    await expect(unreachable.start()).rejects.toThrow();
    expect(() => unreachable.publish(token('c'))).not.toThrow();
    expect(unreachable.droppedTokens).toBe(3);
    expect(errors.filter((e) => e.context === 'publish')).toHaveLength(1);
  });

  it('drops tokens while the publisher is disconnected, and both sides carry on once reconnected', async () => {
    const prefix = uniquePrefix();
    const runtimeName = `${prefix}:runtime`;
    const runtimeClient = new Redis(REDIS_URL, { connectionName: runtimeName });
    stoppers.push(() => runtimeClient.quit());
    const runtime = new RedisTokenStream({ redis: runtimeClient, prefix });
    stoppers.push(() => runtime.stop());
    const gateway = tokenStream(prefix);
    const received: string[] = [];
    gateway.listen((t) => received.push(t.delta));
    await Promise.all([runtime.start(), gateway.whenListening()]);
    const admin = adminClient();

    runtime.publish(token('before'));
    await eventually(() => received.length === 1, 'the first token arrived');
    await killConnection(admin, runtimeName);
    await eventually(() => !runtime.connected, 'the runtime noticed the drop');
    runtime.publish(token('while down'));
    expect(runtime.droppedTokens).toBe(1);
    await eventually(() => runtime.connected, 'the runtime reconnected');
    // The listening side drops too: ioredis subscribes again on its own. Nothing says when (tokens
    // carry no gap signal), so publish until one arrives.
    await killConnection(admin, `${prefix}:token-stream`);
    const deadline = Date.now() + 10_000;
    while (received.length < 2) {
      if (Date.now() > deadline) throw new Error('no token arrived after the listening side reconnected');
      runtime.publish(token('after'));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(received[0]).toBe('before');
    expect(received.slice(1).every((delta) => delta === 'after')).toBe(true);
    expect(runtime.droppedTokens).toBe(1);
    // Given a client, the stream leaves it to its owner.
    await runtime.stop();
    expect(runtimeClient.status).toBe('ready');
  });

  it('drops a message that is not a token, and keeps listening', async () => {
    const prefix = uniquePrefix();
    const errors: Array<{ error: unknown; context: string }> = [];
    const gateway = tokenStream(prefix, errors);
    const received: ReplyToken[] = [];
    gateway.listen((t) => received.push(t));
    await gateway.whenListening();
    const publisher = adminClient();
    await publisher.publish(`${prefix}:tokens`, JSON.stringify({ delta: 'no ids' }));
    await publisher.publish(`${prefix}:tokens`, JSON.stringify(token('fine')));
    await eventually(() => received.length === 1, 'the valid token arrived');
    expect(received).toEqual([token('fine')]);
    expect(errors.map((e) => e.context)).toEqual(['message']);
  });
});
