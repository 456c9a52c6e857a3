import { randomUUID } from 'node:crypto';
import { ConcurrencyConflictError, type AppendRequest, type AppendResult, type EventStore, type NewEvent } from '@meridian/domain';
import { InMemoryEventStore } from '@meridian/infrastructure/event-store/in-memory-event-store';
import { GroupCommitEventStore } from './group-commit-event-store';

const event = (type = 'thing.happened'): NewEvent => ({
  eventId: randomUUID(),
  type,
  data: {},
  metadata: { occurredAt: '2026-01-01T00:00:00.000Z', correlationId: 'c', causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'system', id: 'test' } },
});

/** Counts the commits reaching the store. */
class CountingStore extends InMemoryEventStore {
  commits: number[] = [];
  override async appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    this.commits.push(requests.length);
    return super.appendMany(requests);
  }
}

describe('GroupCommitEventStore', () => {
  let store: CountingStore;
  let group: EventStore;

  beforeEach(() => {
    store = new CountingStore();
    group = new GroupCommitEventStore(store);
  });

  it('given appends made in the same turn, when committed, then they share one commit and each caller gets its own results', async () => {
    const [a, b, c] = await Promise.all([
      group.appendMany([{ streamName: 'default/agent-a', events: [event(), event()], expected: 'no_stream' }]),
      group.appendMany([{ streamName: 'default/agent-b', events: [event()], expected: 'no_stream' }, { streamName: 'default/entity-x', events: [event()], expected: 'any' }]),
      group.append('default/agent-c', [event()], { expected: 'no_stream' }),
    ]);
    expect(store.commits).toEqual([4]);
    expect(a.map((r) => [r.streamName, r.nextExpectedRevision])).toEqual([['default/agent-a', 1]]);
    expect(b.map((r) => r.streamName)).toEqual(['default/agent-b', 'default/entity-x']);
    expect(c).toMatchObject({ streamName: 'default/agent-c', nextExpectedRevision: 0, duplicate: false });
  });

  it('given two callers expecting the same revision of one stream, when committed together, then the first wins and the second gets a conflict after the commit', async () => {
    await store.append('default/chain-1', [event()], { expected: 'no_stream' });
    const first = group.appendMany([{ streamName: 'default/chain-1', events: [event()], expected: 0 }]);
    const second = group.appendMany([{ streamName: 'default/chain-1', events: [event()], expected: 0 }, { streamName: 'default/agent-z', events: [event()], expected: 'no_stream' }]);
    await expect(first).resolves.toMatchObject([{ nextExpectedRevision: 1 }]);
    const error = await second.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect(error).toMatchObject({ streamName: 'default/chain-1', expected: 0, actual: 1 });
    // Nothing of the refused caller was written: its other stream does not exist.
    expect(await store.streamRevision('default/agent-z')).toBeNull();
    expect(await store.streamRevision('default/chain-1')).toBe(1);
  });

  it('given a conflict with another writer, when the group commit fails, then only the callers of that stream fail and the others are committed', async () => {
    await store.append('default/agent-moved', [event()], { expected: 'no_stream' });
    const stale = group.appendMany([{ streamName: 'default/agent-moved', events: [event()], expected: 'no_stream' }]);
    const fine = group.appendMany([{ streamName: 'default/agent-fine', events: [event()], expected: 'no_stream' }]);
    await expect(stale).rejects.toBeInstanceOf(ConcurrencyConflictError);
    await expect(fine).resolves.toMatchObject([{ streamName: 'default/agent-fine', nextExpectedRevision: 0 }]);
    expect(await store.streamRevision('default/agent-fine')).toBe(0);
  });

  it('given appends to "any" streams from several callers, when committed, then they go together in caller order', async () => {
    const results = await Promise.all([1, 2, 3].map(() => group.appendMany([{ streamName: 'default/entity-shared', events: [event()], expected: 'any' }])));
    expect(results.map(([r]) => r.nextExpectedRevision)).toEqual([0, 1, 2]);
    expect(store.commits).toEqual([3]);
  });

  it('given a store that refuses one caller\'s request outright, when committed together, then only that caller fails', async () => {
    class Refusing extends CountingStore {
      override async appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
        if (requests.some((r) => r.streamName.includes('poison'))) throw new Error('value too large');
        return super.appendMany(requests);
      }
    }
    const refusing = new Refusing();
    const grouped = new GroupCommitEventStore(refusing);
    const bad = grouped.appendMany([{ streamName: 'default/agent-poison', events: [event()], expected: 'any' }]);
    const good = grouped.appendMany([{ streamName: 'default/agent-good', events: [event()], expected: 'any' }]);
    await expect(bad).rejects.toThrow('value too large');
    await expect(good).resolves.toMatchObject([{ streamName: 'default/agent-good' }]);
    expect(await refusing.streamRevision('default/agent-good')).toBe(0);
  });

  it('given appends arriving while a commit is in progress, when it ends, then they form the next commit (never two at once)', async () => {
    let active = 0;
    let maxActive = 0;
    class Slow extends CountingStore {
      override async appendMany(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await new Promise((resolve) => setTimeout(resolve, 20));
        try {
          return await super.appendMany(requests);
        } finally {
          active -= 1;
        }
      }
    }
    const slow = new Slow();
    const grouped = new GroupCommitEventStore(slow);
    const first = grouped.appendMany([{ streamName: 'default/agent-1', events: [event()], expected: 'any' }]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = [2, 3].map((n) => grouped.appendMany([{ streamName: `default/agent-${n}`, events: [event()], expected: 'any' }]));
    await Promise.all([first, ...later]);
    expect(maxActive).toBe(1);
    expect(slow.commits).toEqual([1, 2]);
  });
});
