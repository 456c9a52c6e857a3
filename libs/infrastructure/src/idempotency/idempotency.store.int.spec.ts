import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { createTestSchema, describePostgres, PG_URL } from '../../../../test/support/services';
import { createReadModelDataSource } from '../read-models/read-model-data-source';
import { IDEMPOTENCY_CLAIM_LEASE_MS, IdempotencyStore } from './idempotency.store';

function idempotencyStoreSpec(open: () => Promise<{ dataSource: DataSource; cleanup: () => Promise<void> }>): void {
  let dataSource: DataSource;
  let cleanup: () => Promise<void>;
  let store: IdempotencyStore;

  beforeAll(async () => {
    ({ dataSource, cleanup } = await open());
    store = new IdempotencyStore(dataSource, 60);
    await store.init();
    await store.init(); // idempotent
  });
  afterAll(async () => {
    await dataSource.destroy();
    await cleanup();
  });

  it('claims a new key, replays the completed response, and refuses another fingerprint', async () => {
    expect(await store.claim('s', 'k1', 'f1', 1_000)).toEqual({ kind: 'claimed' });
    expect(await store.claim('s', 'k1', 'f1', 1_001)).toEqual({ kind: 'in-progress' });
    await store.complete('s', 'k1', { status: 201, body: { id: 'a', n: [1, 2] }, headers: { location: '/x/a', etag: '"0"' } }, 1_001);
    expect(await store.claim('s', 'k1', 'f1', 1_002)).toEqual({ kind: 'replay', response: { status: 201, body: { id: 'a', n: [1, 2] }, headers: { location: '/x/a', etag: '"0"' } } });
    expect(await store.claim('s', 'k1', 'other', 1_003)).toEqual({ kind: 'mismatch' });
  });

  it('scopes keys, releases failed claims, and forgets expired ones', async () => {
    expect(await store.claim('s', 'k2', 'f', 0)).toEqual({ kind: 'claimed' });
    expect(await store.claim('other-scope', 'k2', 'f', 0)).toEqual({ kind: 'claimed' });
    await store.release('s', 'k2');
    expect(await store.claim('s', 'k2', 'f', 0)).toEqual({ kind: 'claimed' });
    await store.complete('s', 'k2', { status: 200, body: null }, 0);
    expect(await store.claim('s', 'k2', 'different', 59_000)).toEqual({ kind: 'mismatch' });
    expect(await store.claim('s', 'k2', 'different', 61_000)).toEqual({ kind: 'claimed' });
  });

  it('gives up a claim whose request never completed once its lease has run out', async () => {
    expect(await store.claim('s', 'crashed', 'f', 100_000)).toEqual({ kind: 'claimed' });
    expect(await store.claim('s', 'crashed', 'f', 100_000 + IDEMPOTENCY_CLAIM_LEASE_MS - 1)).toEqual({ kind: 'in-progress' });
    expect(await store.claim('s', 'crashed', 'f', 100_000 + IDEMPOTENCY_CLAIM_LEASE_MS + 1)).toEqual({ kind: 'claimed' });
  });

  it('lets exactly one of many concurrent claims of the same key through', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => store.claim('s', 'race', 'f', 5_000)));
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in-progress')).toHaveLength(9);
  });
}

describe('IdempotencyStore (sqlite)', () => {
  idempotencyStoreSpec(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-idem-'));
    const dataSource = await createReadModelDataSource({ type: 'sqlite', path: join(dir, 'rm.sqlite') });
    return { dataSource, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  });
});

describePostgres()('IdempotencyStore (postgres)', () => {
  idempotencyStoreSpec(async () => {
    const schema = await createTestSchema('idem');
    const dataSource = await createReadModelDataSource({ type: 'postgres', url: PG_URL, schema: schema.schema });
    return { dataSource, cleanup: schema.drop };
  });
});

describePostgres()('IdempotencyStore (postgres start-up)', () => {
  it('lets several gateway replicas create the table at once (they start together)', async () => {
    const schema = await createTestSchema('idem_init');
    const dataSources = await Promise.all(
      Array.from({ length: 4 }, () => createReadModelDataSource({ type: 'postgres', url: PG_URL, schema: schema.schema }, { synchronize: false })),
    );
    try {
      const stores = dataSources.map((dataSource) => new IdempotencyStore(dataSource, 60));
      await Promise.all(stores.map((store) => store.init()));
      expect(await stores[0].claim('scope', 'key-1', 'fp', Date.now())).toEqual({ kind: 'claimed' });
      expect(await stores[3].claim('scope', 'key-1', 'fp', Date.now())).toEqual({ kind: 'in-progress' });
    } finally {
      for (const dataSource of dataSources) await dataSource.destroy();
      await schema.drop();
    }
  });
});
