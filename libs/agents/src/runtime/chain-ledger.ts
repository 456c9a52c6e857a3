import {
  evolveChain,
  initialChainState,
  streamName,
  type ChainEvent,
  type ChainState,
  type EventStore,
} from '@meridian/domain';

export interface LoadedChain {
  readonly streamName: string;
  readonly state: ChainState;
  /** Stream revision (-1: no stream yet): the expected revision of the next append. */
  readonly revision: number;
}

const MAX_CACHED_CHAINS = 10_000;

/**
 * Chain usage (hops, decisions, tokens, cost) and halt status, folded from `<tenant>/chain-<id>`.
 *
 * The fold is cached because every decision of a chain reads it. The cache is only a shortcut: each
 * write to a chain stream states the revision it was based on, so a stale entry (another writer got
 * there first) fails that append with a conflict, and the writer reloads with `forget` and decides
 * again. Bounded: the least recently loaded chains are dropped first.
 */
export class ChainLedger {
  private readonly cache = new Map<string, LoadedChain>();

  constructor(private readonly store: EventStore) {}

  async load(tenantId: string, correlationId: string): Promise<LoadedChain> {
    const stream = streamName('chain', correlationId, tenantId);
    const cached = this.cache.get(stream);
    if (cached !== undefined) {
      this.cache.delete(stream);
      this.cache.set(stream, cached);
      return cached;
    }
    const recorded = await this.store.readStream(stream);
    let state = initialChainState();
    for (const event of recorded) state = evolveChain(state, { type: event.type, data: event.data } as ChainEvent);
    const loaded: LoadedChain = { streamName: stream, state, revision: recorded.length > 0 ? recorded[recorded.length - 1].revision : -1 };
    this.remember(loaded);
    return loaded;
  }

  /** After a successful append of `events` at `nextRevision`. */
  appended(chain: LoadedChain, events: readonly ChainEvent[], nextRevision: number): LoadedChain {
    const state = events.reduce(evolveChain, chain.state);
    const next: LoadedChain = { streamName: chain.streamName, state, revision: nextRevision };
    this.remember(next);
    return next;
  }

  forget(tenantId: string, correlationId: string): void {
    this.cache.delete(streamName('chain', correlationId, tenantId));
  }

  private remember(chain: LoadedChain): void {
    this.cache.delete(chain.streamName);
    this.cache.set(chain.streamName, chain);
    if (this.cache.size > MAX_CACHED_CHAINS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }
}
