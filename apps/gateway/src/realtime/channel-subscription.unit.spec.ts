import { randomUUID } from 'node:crypto';
import type { NewEvent, ReadAllOptions, RecordedEvent } from '@meridian/domain';
import { InMemoryEventStore } from '@meridian/infrastructure/event-store/in-memory-event-store';
import { InProcessRealtimeFeed } from '@meridian/infrastructure/realtime/in-process-realtime-feed';
import type { RealtimeFeed, RealtimeListenOptions, RealtimeListener } from '@meridian/infrastructure/realtime/realtime-feed.port';
import { ChannelSubscription, type ChannelOutput, type ReplaySource } from './channel-subscription';
import { parseChannel, type RealtimeChannel } from './realtime-channel';
import type { EventMessage, ServerMessage } from './realtime-protocol';

/**
 * The replay/live join under interleavings that a real run produces only by chance: a real
 * in-memory store and the real in-process feed, with appends injected at chosen moments of the
 * replay (inside its reads), so each hazard is hit every time.
 */

const TENANT = 'default';
const stream = (subject: string) => `${TENANT}/entity-${subject}`;

function event(type = 'order.placed'): NewEvent {
  return {
    eventId: randomUUID(),
    type,
    data: {},
    metadata: { occurredAt: '2026-01-01T00:00:00.000Z', correlationId: randomUUID(), causationId: null, hop: 0, tenantId: TENANT, actor: { kind: 'system', id: 'test' } },
  };
}

class RecordingOutput implements ChannelOutput {
  readonly messages: ServerMessage[] = [];
  bufferedAmount = 0;
  private readonly waiters: Array<{ predicate: (m: ServerMessage) => boolean; resolve: () => void }> = [];

  send(message: ServerMessage): boolean {
    this.messages.push(message);
    for (const waiter of this.waiters.filter((w) => w.predicate(message))) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    return true;
  }

  async sendAndWait(message: ServerMessage): Promise<boolean> {
    return this.send(message);
  }

  admitLive(): boolean {
    return true;
  }

  waitFor(predicate: (m: ServerMessage) => boolean): Promise<void> {
    if (this.messages.some(predicate)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  waitForPosition(position: number): Promise<void> {
    return this.waitFor((m) => m.type === 'event' && m.position === position);
  }

  eventPositions(): number[] {
    return this.messages.filter((m): m is EventMessage => m.type === 'event').map((m) => m.position);
  }

  types(): string[] {
    return this.messages.map((m) => m.type);
  }
}

/** Runs `hook` inside the replay's reads (after the read, before it returns), when it says so. */
class InterleavedSource implements ReplaySource {
  reads = 0;
  hook: ((page: readonly RecordedEvent[], read: number) => Promise<void>) | null = null;

  constructor(private readonly store: InMemoryEventStore) {}

  headPosition(): Promise<number> {
    return this.store.headPosition();
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    const page = await this.store.readAll(options);
    const read = ++this.reads;
    if (this.hook) await this.hook(page, read);
    return page;
  }
}

/** A feed that can lose a batch in transit and then report the gap, as the Redis adapter may. */
class LossyFeed implements RealtimeFeed {
  dropNext = false;
  private readonly gapHandlers = new Set<() => void>();

  constructor(private readonly inner: RealtimeFeed) {}

  listen(listener: RealtimeListener, options?: RealtimeListenOptions): () => void {
    const stop = this.inner.listen((events) => {
      if (this.dropNext) {
        this.dropNext = false;
        return;
      }
      listener(events);
    });
    const onGap = options?.onGap;
    if (onGap) this.gapHandlers.add(onGap);
    return () => {
      stop();
      if (onGap) this.gapHandlers.delete(onGap);
    };
  }

  signalGap(): void {
    for (const handler of this.gapHandlers) handler();
  }
}

describe('ChannelSubscription (replay then live)', () => {
  let store: InMemoryEventStore;
  let feed: InProcessRealtimeFeed;
  let source: InterleavedSource;
  let output: RecordingOutput;
  let channel: RealtimeChannel;
  const subscriptions: ChannelSubscription[] = [];

  function subscribe(options: { maxPendingEvents?: number; feed?: RealtimeFeed } = {}): ChannelSubscription {
    const subscription = new ChannelSubscription(channel, source, options.feed ?? feed, output, {
      replayPageSize: 3,
      maxPendingEvents: options.maxPendingEvents ?? 1000,
      replayHighWaterBytes: 1024 * 1024,
    });
    subscriptions.push(subscription);
    return subscription;
  }

  /** Appends and resolves once the feed has broadcast the append. */
  async function appendSeen(subject: string, events: NewEvent[]): Promise<number> {
    const seen = new Promise<void>((resolve) => {
      const ids = new Set(events.map((e) => e.eventId));
      const stop = feed.listen((batch) => {
        for (const e of batch) ids.delete(e.eventId);
        if (ids.size === 0) {
          stop();
          resolve();
        }
      });
    });
    const result = await store.append(stream(subject), events, { expected: 'any' });
    await seen;
    return result.position;
  }

  async function storedPositions(after = 0): Promise<number[]> {
    return (await store.readAll({ after, filter: channel.filter })).filter((e) => channel.matches(e)).map((e) => e.position);
  }

  beforeEach(async () => {
    store = new InMemoryEventStore();
    feed = new InProcessRealtimeFeed(store);
    await feed.start();
    source = new InterleavedSource(store);
    output = new RecordingOutput();
    const parsed = parseChannel('events', TENANT);
    if (!parsed.ok) throw new Error(parsed.detail);
    channel = parsed.channel;
  });

  afterEach(async () => {
    subscriptions.splice(0).forEach((s) => s.stop());
    await feed.stop();
    await store.close();
  });

  it('sends an event committed after the last replay read, and seen live before the switch, exactly once', async () => {
    for (let i = 0; i < 7; i++) await store.append(stream(`s${i}`), [event()], { expected: 'any' });
    let injected = 0;
    source.hook = async (page) => {
      if (page.length === 0 && injected === 0) injected = await appendSeen('late', [event()]);
    };
    await subscribe().start(0);
    expect(injected).toBeGreaterThan(0);
    await output.waitForPosition(injected);
    expect(output.eventPositions()).toEqual(await storedPositions());
    expect(output.types().slice(-2)).toEqual(['caught-up', 'event']);

    const live = await appendSeen('after', [event()]);
    await output.waitForPosition(live);
    expect(output.eventPositions()).toEqual(await storedPositions());
  });

  it('sends events that both the replay and the feed see exactly once', async () => {
    for (let i = 0; i < 4; i++) await store.append(stream(`s${i}`), [event()], { expected: 'any' });
    source.hook = async (_page, read) => {
      // Committed during the replay: held from the feed AND read by the next pages.
      if (read === 1) await appendSeen('during', [event(), event(), event(), event()]);
    };
    await subscribe().start(0);
    const positions = await storedPositions();
    expect(positions).toHaveLength(8);
    expect(output.eventPositions()).toEqual(positions);
  });

  it('reads again instead of holding more live events than the limit, losing none', async () => {
    await store.append(stream('s'), [event()], { expected: 'any' });
    let injected = false;
    source.hook = async (page) => {
      // At the read that would end the replay: more live events than may be held.
      if (page.length === 0 && !injected) {
        injected = true;
        await appendSeen('burst', [event(), event(), event(), event(), event()]);
      }
    };
    await subscribe({ maxPendingEvents: 2 }).start(0);
    expect(injected).toBe(true);
    expect(output.eventPositions()).toEqual(await storedPositions());
    expect(output.eventPositions()).toHaveLength(6);
  });

  it('starts at the head without fromPosition', async () => {
    await store.append(stream('old'), [event(), event()], { expected: 'any' });
    await subscribe().start();
    expect(output.messages[0]).toEqual({ type: 'subscribed', channel: 'events', position: 2 });
    expect(output.messages[1]).toEqual({ type: 'caught-up', channel: 'events', position: 2 });
    const live = await appendSeen('new', [event()]);
    await output.waitForPosition(live);
    expect(output.eventPositions()).toEqual([3]);
  });

  it('catches up from the store when the feed reports a gap', async () => {
    const lossy = new LossyFeed(feed);
    await subscribe({ feed: lossy }).start();
    lossy.dropNext = true;
    const lost = await appendSeen('lost', [event()]);
    expect(output.eventPositions()).toEqual([]);

    lossy.signalGap();
    await output.waitForPosition(lost);
    const next = await appendSeen('next', [event()]);
    await output.waitForPosition(next);
    expect(output.eventPositions()).toEqual([lost, next]);
    // Recovery is transparent: no second caught-up.
    expect(output.types().filter((t) => t === 'caught-up')).toHaveLength(1);
  });

  it('sends nothing after stop, even mid-replay', async () => {
    for (let i = 0; i < 9; i++) await store.append(stream(`s${i}`), [event()], { expected: 'any' });
    const subscription = subscribe();
    source.hook = async (_page, read) => {
      if (read === 2) subscription.stop();
    };
    await subscription.start(0);
    const sent = output.eventPositions();
    expect(sent).toEqual([1, 2, 3]);
    await appendSeen('after-stop', [event()]);
    expect(output.eventPositions()).toEqual(sent);
    expect(output.types()).not.toContain('caught-up');
  });
});
