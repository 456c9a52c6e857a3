import {
  EMPTY_TRIGGER_STATS,
  StaleTriggerCommitError,
  type StoredTriggerEvaluation,
  type TriggerEvaluationStats,
  type TriggerStateStore,
} from '@meridian/agents';

/**
 * The one conformance suite of the TriggerStateStore port. Every adapter runs it (in-memory, SQLite,
 * PostgreSQL); adapter-specific behaviour (statement chunking, concurrent committers) is tested next
 * to the adapter.
 */
export interface TriggerStateStoreFixture {
  /** A fresh, empty store. */
  readonly store: TriggerStateStore;
  /** A new store instance on the same storage, as after a restart. */
  readonly reopen: () => Promise<TriggerStateStore>;
  readonly cleanup: () => Promise<void>;
}

/** Called once per test. */
export type TriggerStateStoreFactory = () => Promise<TriggerStateStoreFixture>;

export function storedEvaluation(triggerId: string, extra: Partial<StoredTriggerEvaluation> = {}): StoredTriggerEvaluation {
  return {
    tenantId: 'tenant-a',
    triggerId,
    conditionVersion: 1,
    stateSince: '2026-03-01T12:00:00.000Z',
    stateReason: 'defined',
    state: { kind: 'window', open: [] },
    stats: EMPTY_TRIGGER_STATS,
    ...extra,
  };
}

/** Evaluations in a stable order: the port promises a set, not an order. */
export function byKey(evaluations: readonly StoredTriggerEvaluation[]): StoredTriggerEvaluation[] {
  return [...evaluations].sort((a, b) => (a.tenantId === b.tenantId ? compare(a.triggerId, b.triggerId) : compare(a.tenantId, b.tenantId)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const BUSY_STATS: TriggerEvaluationStats = {
  evaluations: 1_234_567,
  firings: 42,
  suppressed: 3,
  lateEvents: 2,
  lastLateEvent: { eventId: 'evt-9', type: 'order.placed', subject: null, time: '2026-03-01T11:00:00.000Z', seenAt: '2026-03-01T12:30:00.000Z' },
  lateFirings: 1,
  refused: 4,
  matchErrors: 5,
  lastMatchError: 'filter `amount > 10`: amount is not a number',
};

export function triggerStateStoreConformance(open: TriggerStateStoreFactory): void {
  let fixture: TriggerStateStoreFixture;
  let store: TriggerStateStore;

  beforeEach(async () => {
    fixture = await open();
    store = fixture.store;
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  it('loads an engine that never committed at position 0, with no evaluations', async () => {
    expect(await store.load('triggers')).toEqual({ position: 0, evaluations: [] });
    expect(await store.find('tenant-a', 'nothing')).toBeNull();
  });

  it('loads back exactly what was committed: states of any JSON shape, stats and metadata', async () => {
    const protoKeyed = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "c", "toString": 1}') as unknown;
    const committed = [
      storedEvaluation('nested', {
        conditionVersion: 7,
        stateSince: '2026-02-28T23:59:59.999Z',
        stateReason: 'condition-changed',
        state: { windows: [{ key: 'order-1', count: 3, first: '2026-03-01T10:00:00.000Z', sums: { amount: 12.5, neg: -0.25, big: 1e300 } }], deadlines: [], open: true, none: null },
        stats: BUSY_STATS,
      }),
      storedEvaluation('unicode', { state: { text: 'Zürich — 東京 — 🚀 — e\u0301 — nul\u0000byte — lone\ud83d', 'clé ü': ['ñ', '\n\t"\\'] } }),
      storedEvaluation('proto-keys', { state: protoKeyed }),
      storedEvaluation('scalar', { state: 'just a string', stateReason: 'enabled' }),
      storedEvaluation('null-state', { state: null }),
      storedEvaluation('array-state', { state: [1, [2, [3, []]], { a: [] }] }),
      storedEvaluation('Ünïcode-id', { tenantId: 'tenant-ß' }),
    ];
    await store.commit('triggers', 17, committed, []);

    const loaded = await store.load('triggers');
    expect(loaded.position).toBe(17);
    expect(byKey(loaded.evaluations)).toEqual(byKey(committed));

    // A key named __proto__ stays a key: it neither vanishes nor becomes the state's prototype.
    const proto = loaded.evaluations.find((e) => e.triggerId === 'proto-keys')?.state as Record<string, unknown>;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.keys(proto).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('replaces a committed evaluation whole on a later commit, and keeps the ones not named', async () => {
    await store.commit('triggers', 1, [storedEvaluation('t1', { state: { a: 1, b: 2 } }), storedEvaluation('t2', { state: { keep: true } })], []);
    const replaced = storedEvaluation('t1', { conditionVersion: 2, stateReason: 'condition-changed', stateSince: '2026-03-02T00:00:00.000Z', state: { c: 3 }, stats: BUSY_STATS });
    await store.commit('triggers', 2, [replaced], []);

    expect(await store.load('triggers')).toEqual({ position: 2, evaluations: expect.any(Array) });
    expect(byKey((await store.load('triggers')).evaluations)).toEqual([replaced, storedEvaluation('t2', { state: { keep: true } })]);
  });

  it('removes the keys named in `removed`, even when the same commit changed them; unknown keys are no error', async () => {
    await store.commit('triggers', 1, [storedEvaluation('t1'), storedEvaluation('t2'), storedEvaluation('t3'), storedEvaluation('t1', { tenantId: 'tenant-b' })], []);
    await store.commit(
      'triggers',
      2,
      [storedEvaluation('t3', { state: { changed: true } })],
      [
        { tenantId: 'tenant-a', triggerId: 't1' },
        { tenantId: 'tenant-a', triggerId: 't3' },
        { tenantId: 'tenant-a', triggerId: 'never-stored' },
      ],
    );

    const loaded = await store.load('triggers');
    expect(loaded.position).toBe(2);
    expect(byKey(loaded.evaluations)).toEqual([storedEvaluation('t2'), storedEvaluation('t1', { tenantId: 'tenant-b' })]);
    expect(await store.find('tenant-a', 't1')).toBeNull();
    expect(await store.find('tenant-a', 't3')).toBeNull();
  });

  it('keeps engines under different names apart: positions, evaluations and removals', async () => {
    await store.commit('engine-a', 10, [storedEvaluation('shared', { state: 'from a' }), storedEvaluation('only-a')], []);
    await store.commit('engine-b', 3, [storedEvaluation('shared', { state: 'from b' })], []);
    await store.commit('engine-b', 4, [], [{ tenantId: 'tenant-a', triggerId: 'shared' }]);

    expect(await store.load('engine-a')).toEqual({ position: 10, evaluations: expect.any(Array) });
    expect(byKey((await store.load('engine-a')).evaluations)).toEqual([storedEvaluation('only-a'), storedEvaluation('shared', { state: 'from a' })]);
    expect(await store.load('engine-b')).toEqual({ position: 4, evaluations: [] });
    expect(await store.load('engine-c')).toEqual({ position: 0, evaluations: [] });
  });

  it('refuses a commit behind the stored position with StaleTriggerCommitError, and changes nothing', async () => {
    await store.commit('triggers', 10, [storedEvaluation('t1', { state: { v: 1 } }), storedEvaluation('t2')], []);
    const before = await store.load('triggers');

    const stale = store.commit('triggers', 9, [storedEvaluation('t1', { state: { v: 'stale' } }), storedEvaluation('t3')], [{ tenantId: 'tenant-a', triggerId: 't2' }]);
    await expect(stale).rejects.toBeInstanceOf(StaleTriggerCommitError);
    await expect(stale).rejects.toMatchObject({ engine: 'triggers', stored: 10, attempted: 9 });

    const after = await store.load('triggers');
    expect(after.position).toBe(10);
    expect(byKey(after.evaluations)).toEqual(byKey(before.evaluations));
    expect(await store.find('tenant-a', 't3')).toBeNull();
  });

  it('accepts a re-commit at the stored position (a replayed batch) and applies it', async () => {
    await store.commit('triggers', 5, [storedEvaluation('t1', { state: { v: 1 } })], []);
    await store.commit('triggers', 5, [storedEvaluation('t1', { state: { v: 2 } })], []);
    await store.commit('triggers', 5, [storedEvaluation('t1', { state: { v: 2 } })], []);

    expect(await store.load('triggers')).toEqual({ position: 5, evaluations: [storedEvaluation('t1', { state: { v: 2 } })] });
  });

  it('commits all or nothing: a commit with one evaluation JSON cannot hold leaves the previous snapshot intact', async () => {
    const previous = [storedEvaluation('t1', { state: { v: 1 } }), storedEvaluation('t2', { state: { v: 1 } })];
    await store.commit('triggers', 5, previous, []);

    const broken = store.commit(
      'triggers',
      6,
      [storedEvaluation('t1', { state: { v: 2 } }), storedEvaluation('t3'), storedEvaluation('t4', { state: { count: 10n } })],
      [{ tenantId: 'tenant-a', triggerId: 't2' }],
    );
    await expect(broken).rejects.toThrow(TypeError);

    expect(await store.load('triggers')).toEqual({ position: 5, evaluations: expect.any(Array) });
    expect(byKey((await store.load('triggers')).evaluations)).toEqual(previous);
    expect(await store.find('tenant-a', 't3')).toBeNull();
    // The store is still usable, and the next commit starts from the intact snapshot.
    await store.commit('triggers', 6, [storedEvaluation('t3')], []);
    expect(byKey((await store.load('triggers')).evaluations)).toEqual([...previous, storedEvaluation('t3')]);
  });

  it('keeps what was committed apart from the objects given to and returned by it', async () => {
    const state = { open: [{ key: 'k', count: 1 }] };
    await store.commit('triggers', 1, [storedEvaluation('t1', { state })], []);
    state.open[0].count = 99;
    const loaded = await store.load('triggers');
    (loaded.evaluations[0].state as typeof state).open.push({ key: 'x', count: 0 });
    ((await store.find('tenant-a', 't1'))?.state as typeof state).open[0].count = 77;

    expect((await store.load('triggers')).evaluations).toEqual([storedEvaluation('t1', { state: { open: [{ key: 'k', count: 1 }] } })]);
  });

  it('shows a reopened store everything committed before', async () => {
    await store.commit('engine-a', 2 ** 40, [storedEvaluation('t1', { stats: BUSY_STATS, state: { deadline: '2026-03-01T13:00:00.000Z' } })], []);
    await store.commit('engine-b', 8, [storedEvaluation('t2')], []);
    await store.commit('engine-b', 9, [], [{ tenantId: 'tenant-a', triggerId: 't2' }]);

    const reopened = await fixture.reopen();
    expect(await reopened.load('engine-a')).toEqual({
      position: 2 ** 40,
      evaluations: [storedEvaluation('t1', { stats: BUSY_STATS, state: { deadline: '2026-03-01T13:00:00.000Z' } })],
    });
    expect(await reopened.load('engine-b')).toEqual({ position: 9, evaluations: [] });
    expect(await reopened.find('tenant-a', 't1')).toEqual(storedEvaluation('t1', { stats: BUSY_STATS, state: { deadline: '2026-03-01T13:00:00.000Z' } }));
    // And it goes on from there: the stored checkpoint still guards it.
    await expect(reopened.commit('engine-b', 8, [], [])).rejects.toBeInstanceOf(StaleTriggerCommitError);
  });

  it('finds one trigger by tenant and id under any engine name, and null when no engine has it', async () => {
    await store.commit('engine-a', 1, [storedEvaluation('t1', { state: 'a' })], []);
    await store.commit('engine-b', 1, [storedEvaluation('t2', { tenantId: 'tenant-b', stats: BUSY_STATS })], []);

    expect(await store.find('tenant-a', 't1')).toEqual(storedEvaluation('t1', { state: 'a' }));
    expect(await store.find('tenant-b', 't2')).toEqual(storedEvaluation('t2', { tenantId: 'tenant-b', stats: BUSY_STATS }));
    expect(await store.find('tenant-b', 't1')).toBeNull();
    expect(await store.find('tenant-a', 't2')).toBeNull();
    expect(await store.find('tenant-a', 'unknown')).toBeNull();
  });

  it('commits and removes 2,000 evaluations in one commit each', async () => {
    const many = Array.from({ length: 2_000 }, (_, i) =>
      storedEvaluation(`t-${String(i).padStart(4, '0')}`, { tenantId: `tenant-${i % 3}`, conditionVersion: i, state: { i, keys: [`k${i}`], text: 'x'.repeat(i % 50) } }),
    );
    await store.commit('triggers', 2_000, many, []);

    const loaded = await store.load('triggers');
    expect(loaded.position).toBe(2_000);
    expect(byKey(loaded.evaluations)).toEqual(byKey(many));

    await store.commit(
      'triggers',
      2_001,
      [],
      many.filter((_, i) => i !== 1_234).map(({ tenantId, triggerId }) => ({ tenantId, triggerId })),
    );
    expect(await store.load('triggers')).toEqual({ position: 2_001, evaluations: [many[1_234]] });
  });

  it('round-trips large states (hundreds of KB each, about 9 MB in one commit)', async () => {
    const note = 'padding that makes each pending event weigh about 150 characters of JSON';
    const large = Array.from({ length: 60 }, (_, i) =>
      storedEvaluation(`large-${i}`, { state: { events: Array.from({ length: 1_000 }, (_, j) => ({ id: `evt-${i}-${j}`, at: '2026-03-01T12:00:00.000Z', amount: j * 0.5, note })) } }),
    );
    expect(JSON.stringify(large[0].state).length).toBeGreaterThan(140_000);
    await store.commit('triggers', 1, large, []);

    expect(byKey((await store.load('triggers')).evaluations)).toEqual(byKey(large));
  });
}
