import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StaleTriggerCommitError, type StoredTriggerEvaluation } from '@meridian/agents';
import type { DataSource } from 'typeorm';
import { createTestSchema, describePostgres, PG_URL } from '../../../../test/support/services';
import { createReadModelDataSource } from '../read-models/read-model-data-source';
import { SqlTriggerStateStore } from './sql-trigger-state.store';
import { byKey, storedEvaluation, triggerStateStoreConformance, type TriggerStateStoreFixture } from './trigger-state-store.conformance';

/** Opens a new DataSource on the same database each time it is called. */
type Connect = () => Promise<DataSource>;

interface SqlFixture extends TriggerStateStoreFixture {
  /** Another store on a new DataSource (its own connection or pool, as another process would have). */
  readonly connect: () => Promise<SqlTriggerStateStore>;
  /** Another store on the fixture's first DataSource (on SQLite, the one connection a process writes through). */
  readonly sibling: () => SqlTriggerStateStore;
}

async function sqlFixture(connect: Connect, release: () => Promise<void>): Promise<SqlFixture> {
  const dataSources: DataSource[] = [];
  // Every store opens its own DataSource and creates the tables if missing, as a restarted process does.
  const open = async () => {
    const dataSource = await connect();
    dataSources.push(dataSource);
    const store = new SqlTriggerStateStore(dataSource);
    await store.init();
    return store;
  };
  const store = await open();
  return {
    store,
    reopen: open,
    connect: open,
    sibling: () => new SqlTriggerStateStore(dataSources[0]),
    cleanup: async () => {
      for (const dataSource of dataSources) await dataSource.destroy();
      await release();
    },
  };
}

function openSqlite(): Promise<SqlFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-trigger-state-'));
  const path = join(dir, 'rm.sqlite');
  return sqlFixture(
    () => createReadModelDataSource({ type: 'sqlite', path }, { synchronize: false }),
    async () => rmSync(dir, { recursive: true, force: true }),
  );
}

async function openPostgres(): Promise<SqlFixture> {
  const schema = await createTestSchema('trigger_state');
  return sqlFixture(() => createReadModelDataSource({ type: 'postgres', url: PG_URL, schema: schema.schema }, { synchronize: false }), schema.drop);
}

/**
 * `secondCommitter` is the store racing the fixture's: on PostgreSQL one on another DataSource (its
 * own pool, as another process would have); on SQLite one sharing the DataSource, since a process
 * writes a SQLite file through one connection (two in one process would block each other's
 * synchronous lock waits).
 */
function sqlSpecifics(open: () => Promise<SqlFixture>, secondCommitter: (fixture: SqlFixture) => Promise<SqlTriggerStateStore>): void {
  let fixture: SqlFixture;
  beforeEach(async () => {
    fixture = await open();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  it('rolls back the statements already run when the database refuses a row of a later one', async () => {
    const previous = [storedEvaluation('keep', { state: { v: 1 } }), storedEvaluation('gone-if-committed')];
    await fixture.store.commit('triggers', 5, previous, []);

    // 1,200 valid rows fill more than two upsert statements before the refused one (no state_since).
    const valid = Array.from({ length: 1_200 }, (_, i) => storedEvaluation(`new-${i}`));
    const refused = { ...storedEvaluation('refused'), stateSince: null } as unknown as StoredTriggerEvaluation;
    await expect(
      fixture.store.commit('triggers', 6, [storedEvaluation('keep', { state: { v: 2 } }), ...valid, refused], [{ tenantId: 'tenant-a', triggerId: 'gone-if-committed' }]),
    ).rejects.toThrow();

    const reopened = await fixture.reopen();
    expect(await reopened.load('triggers')).toEqual({ position: 5, evaluations: expect.any(Array) });
    expect(byKey((await reopened.load('triggers')).evaluations)).toEqual(byKey(previous));
    expect(await reopened.find('tenant-a', 'new-0')).toBeNull();
  });

  it('serialises concurrent committers of one engine: the highest position wins, lower ones are refused or overtaken', async () => {
    const [a, b] = [fixture.store, await secondCommitter(fixture)];
    // Positions in a scrambled order, alternating between the two committers.
    const positions = Array.from({ length: 30 }, (_, i) => ((i * 7) % 30) + 1);
    const outcomes = await Promise.allSettled(
      positions.map((position, i) =>
        (i % 2 === 0 ? a : b).commit('triggers', position, [storedEvaluation('latest', { state: { position } }), storedEvaluation(`at-${position}`)], []),
      ),
    );

    const accepted = positions.filter((_, i) => outcomes[i].status === 'fulfilled');
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(StaleTriggerCommitError);
        const stale = outcome.reason as StaleTriggerCommitError;
        expect(stale.attempted).toBeLessThan(stale.stored);
      }
    }
    const loaded = await a.load('triggers');
    expect(loaded.position).toBe(30);
    const rows = new Map(loaded.evaluations.map((e) => [e.triggerId, e]));
    // Had a lower position committed after 30, it would have overwritten `latest` and the checkpoint.
    expect(rows.get('latest')?.state).toEqual({ position: 30 });
    expect([...rows.keys()].filter((id) => id.startsWith('at-')).sort()).toEqual(accepted.map((p) => `at-${p}`).sort());
  });
}

describe('SqlTriggerStateStore (sqlite)', () => {
  triggerStateStoreConformance(openSqlite);
  sqlSpecifics(openSqlite, async (fixture) => fixture.sibling());
});

describePostgres()('SqlTriggerStateStore (postgres)', () => {
  triggerStateStoreConformance(openPostgres);
  sqlSpecifics(openPostgres, (fixture) => fixture.connect());
});

describePostgres()('SqlTriggerStateStore (postgres start-up)', () => {
  it('lets several processes create the tables at once (runtime and gateway start together)', async () => {
    const schema = await createTestSchema('trigger_state_init');
    const dataSources = await Promise.all(
      Array.from({ length: 4 }, () => createReadModelDataSource({ type: 'postgres', url: PG_URL, schema: schema.schema }, { synchronize: false })),
    );
    try {
      const stores = dataSources.map((dataSource) => new SqlTriggerStateStore(dataSource));
      await Promise.all(stores.map((store) => store.init()));
      await stores[0].commit('triggers', 1, [storedEvaluation('t1')], []);
      expect(await stores[3].find('tenant-a', 't1')).toEqual(storedEvaluation('t1'));
    } finally {
      for (const dataSource of dataSources) await dataSource.destroy();
      await schema.drop();
    }
  });
});
