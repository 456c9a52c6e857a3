import type { EventStore, GlobalPosition, RecordedEvent } from '@meridian/domain';
import type { RealtimeFeed } from '@meridian/infrastructure/realtime/realtime-feed.port';
import type { RealtimeChannel } from './realtime-channel';
import { eventMessage, type RequestId, type ServerMessage } from './realtime-protocol';

/** Where a subscription writes: the client's connection. */
export interface ChannelOutput {
  /** Queues a message; false when the connection can no longer send. */
  send(message: ServerMessage): boolean;
  /**
   * Queues a message and resolves once it (and all before it) has been handed to the OS: true, or
   * false when the connection can no longer send.
   */
  sendAndWait(message: ServerMessage): Promise<boolean>;
  /** Bytes queued and not yet handed to the OS. */
  readonly bufferedAmount: number;
  /** Called before each live batch: false (and the connection is being closed) when the client lags too far. */
  admitLive(): boolean;
}

/** What the replay reads: the event store's global order. */
export type ReplaySource = Pick<EventStore, 'headPosition' | 'readAll'>;

export interface ChannelSubscriptionOptions {
  readonly replayPageSize: number;
  readonly maxPendingEvents: number;
  /** Replay waits for the client to drain before queueing more than this. */
  readonly replayHighWaterBytes: number;
}

/**
 * One client subscription to one channel: replay from the store, then live from the feed, with no
 * gap and no duplicate.
 *
 * Invariant: every event matching the channel with a position ≤ `checkpoint` has been sent, and
 * nothing above it has. So the join of replay and live is a comparison of positions:
 * 1. the feed listener is attached first (every event committed from then on reaches `onLive`);
 * 2. the store is paged from the checkpoint until a read comes back empty, while live events are
 *    held in `pending`;
 * 3. `caught-up` is sent and the held events above the checkpoint are delivered;
 * 4. from then on live events above the checkpoint are delivered as they come.
 * The read that comes back empty started after the listener was attached, so every event it could
 * not see is one the listener has received. An event seen by both paths is sent once, because the
 * checkpoint only moves forward.
 */
export class ChannelSubscription {
  private checkpoint: GlobalPosition = 0;
  private live = false;
  private pending: RecordedEvent[] = [];
  /** Set when held events were dropped (or the feed lost some): the store must be read again. */
  private mustReread = false;
  private catchingUp = false;
  private stopped = false;
  private unlisten: () => void = () => undefined;

  constructor(
    readonly channel: RealtimeChannel,
    private readonly store: ReplaySource,
    private readonly feed: RealtimeFeed,
    private readonly output: ChannelOutput,
    private readonly options: ChannelSubscriptionOptions,
    private readonly requestId?: RequestId,
  ) {}

  /**
   * Replays matching events after `fromPosition` (or starts at the head when it is absent), sends
   * `caught-up`, then stays live until `stop()`. Rejects when the store cannot be read.
   */
  async start(fromPosition?: GlobalPosition): Promise<void> {
    this.unlisten = this.feed.listen((events) => this.onLive(events), { onGap: () => this.onGap() });
    this.checkpoint = fromPosition ?? (await this.store.headPosition());
    if (this.stopped) return;
    this.output.send({ type: 'subscribed', channel: this.channel.name, position: this.checkpoint, ...this.echo() });
    await this.catchUp(true);
  }

  stop(): void {
    this.stopped = true;
    this.pending = [];
    this.unlisten();
  }

  get position(): GlobalPosition {
    return this.checkpoint;
  }

  private async catchUp(announce: boolean): Promise<void> {
    this.catchingUp = true;
    this.live = false;
    try {
      for (;;) {
        this.mustReread = false;
        // Read before the page: every event at or below `head` is visible to the read that follows.
        const head = await this.store.headPosition();
        const page = await this.store.readAll({ after: this.checkpoint, limit: this.options.replayPageSize, filter: this.channel.filter });
        if (this.stopped) return;
        if (page.length === 0) {
          // Held events were dropped while this read ran: they may be newer than what it saw.
          if (this.mustReread) continue;
          if (head > this.checkpoint) this.checkpoint = head;
          break;
        }
        for (const event of page) {
          if (this.channel.matches(event)) {
            const message = eventMessage(this.channel.name, event);
            // Pace the replay by the client: never queue much more than the high-water mark.
            const sent =
              this.output.bufferedAmount > this.options.replayHighWaterBytes ? await this.output.sendAndWait(message) : this.output.send(message);
            if (!sent || this.stopped) return;
          }
          this.checkpoint = event.position;
        }
        // Store reads may be synchronous underneath: give other clients and requests their turn.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.stopped) return;
      }
      // Synchronous from here on: the held events are delivered and the switch to live made at once.
      if (announce) this.output.send({ type: 'caught-up', channel: this.channel.name, position: this.checkpoint, ...this.echo() });
      const held = this.pending;
      this.pending = [];
      this.live = true;
      this.deliver(held);
    } finally {
      this.catchingUp = false;
    }
  }

  private onLive(events: readonly RecordedEvent[]): void {
    if (this.stopped) return;
    if (!this.live) {
      for (const event of events) if (this.channel.matches(event)) this.pending.push(event);
      if (this.pending.length > this.options.maxPendingEvents) {
        // They are all stored: the replay will read them again rather than hold them here.
        this.pending = [];
        this.mustReread = true;
      }
      return;
    }
    if (!this.output.admitLive()) return;
    this.deliver(events);
  }

  private deliver(events: readonly RecordedEvent[]): void {
    for (const event of events) {
      if (event.position <= this.checkpoint || !this.channel.matches(event)) continue;
      if (!this.output.send(eventMessage(this.channel.name, event))) return;
      this.checkpoint = event.position;
    }
  }

  /** The feed may have lost events: catch up from the store again, transparently to the client. */
  private onGap(): void {
    if (this.stopped) return;
    if (this.catchingUp) {
      this.mustReread = true;
      return;
    }
    this.catchUp(false).catch(() => this.output.send({ type: 'error', code: 'INTERNAL_ERROR', detail: 'Catching up after a realtime interruption failed; resubscribe with fromPosition.', channel: this.channel.name }));
  }

  private echo(): { id?: RequestId } {
    return this.requestId !== undefined ? { id: this.requestId } : {};
  }
}
