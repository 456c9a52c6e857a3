import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { createTestSchema, describePostgres, PG_URL } from '../../../../test/support/services';
import { createReadModelDataSource } from '../read-models/read-model-data-source';
import { SqlCheckpointStore } from './sql-checkpoint.store';

function checkpointStoreSpec(open: () => Promise<{ dataSource: DataSource; cleanup: () => Promise<void> }>): void {
  let dataSource: DataSource;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ dataSource, cleanup } = await open());
  });
  afterAll(async () => {
    await dataSource.destroy();
    await cleanup();
  });

  it('starts at 0, remembers per name, survives a new store instance, and never moves backwards', async () => {
    const store = new SqlCheckpointStore(dataSource);
    await store.init();
    expect(await store.load('agent-router')).toBe(0);
    await store.save('agent-router', 120);
    await store.save('trigger-evaluator', 7);
    await store.save('agent-router', 90);
    const again = new SqlCheckpointStore(dataSource);
    await again.init();
    expect(await again.load('agent-router')).toBe(120);
    expect(await again.load('trigger-evaluator')).toBe(7);
    await again.save('agent-router', 2 ** 40);
    expect(await store.load('agent-router')).toBe(2 ** 40);
  });
}

describe('SqlCheckpointStore (sqlite)', () => {
  checkpointStoreSpec(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-checkpoints-'));
    const dataSource = await createReadModelDataSource({ type: 'sqlite', path: join(dir, 'rm.sqlite') });
    return { dataSource, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  });
});

describePostgres()('SqlCheckpointStore (postgres)', () => {
  checkpointStoreSpec(async () => {
    const schema = await createTestSchema('checkpoints');
    const dataSource = await createReadModelDataSource({ type: 'postgres', url: PG_URL, schema: schema.schema });
    return { dataSource, cleanup: schema.drop };
  });
});

describePostgres()('SqlCheckpointStore (postgres start-up)', () => {
  it('lets several processes create the table at once (the apps of the distributed mode start together)', async () => {
    const schema = await createTestSchema('checkpoints_init');
    const dataSources = await Promise.all(
      Array.from({ length: 4 }, () => createReadModelDataSource({ type: 'postgres', url: PG_URL, schema: schema.schema }, { synchronize: false })),
    );
    try {
      const stores = dataSources.map((dataSource) => new SqlCheckpointStore(dataSource));
      await Promise.all(stores.map((store) => store.init()));
      await stores[0].save('agent-router', 42);
      expect(await stores[3].load('agent-router')).toBe(42);
    } finally {
      for (const dataSource of dataSources) await dataSource.destroy();
      await schema.drop();
    }
  });
});
