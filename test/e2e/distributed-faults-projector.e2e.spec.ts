import { eventually } from './support/eventually';
import { createDeployment, describeDistributed, type AppProcess, type DistributedDeployment } from './support/distributed-processes';
import { listAll, repeated } from './support/distributed-faults';

jest.setTimeout(600_000);

const SUBJECTS = 100;
const PER_SUBJECT = 300;
const TOTAL = SUBJECTS * PER_SUBJECT;

interface ProjectionStatus {
  name: string;
  activeVersion: number;
  checkpoint: number;
  head: number;
  state: 'live' | 'rebuilding' | 'switching' | 'failed';
  rebuild?: { targetVersion: number; position: number; head: number };
  lastError?: string;
}

/**
 * kill -9 of the projector in the middle of rebuilds of the `events` and `entities` read models.
 * The rebuild is recorded in the projection state table, so the restarted projector resumes it;
 * meanwhile and afterwards the read models answer exactly what they answered before. (The runtime
 * plays no part in a rebuild and is not started: ingestion and queries go through the gateway.)
 */
describeDistributed()('distributed faults: kill -9 of the projector during a rebuild', () => {
  let deployment: DistributedDeployment;
  let gateway: AppProcess;
  let projector: AppProcess;

  beforeAll(async () => {
    deployment = await createDeployment('fault_rebuild');
    [projector, gateway] = await Promise.all([deployment.start('projector'), deployment.start('gateway')]);
  }, 180_000);

  afterAll(async () => {
    await deployment?.close();
  }, 60_000);

  const statuses = async (): Promise<Record<string, ProjectionStatus>> => {
    const response = await deployment.request(gateway, '/api/v1/admin/projections');
    expect(response.status).toBe(200);
    const { items } = (await response.json()) as { items: ProjectionStatus[] };
    return Object.fromEntries(items.map((item) => [item.name, item]));
  };

  /** What users read from the two read models: every event id, and each entity's event count. */
  const readModels = async (): Promise<{ ids: string[]; counts: Record<string, number> }> => {
    const ids = (await listAll<{ id: string }>(deployment, gateway, '/api/v1/events')).map((item) => item.id);
    const counts: Record<string, number> = {};
    for (let s = 0; s < SUBJECTS; s += 1) {
      const response = await deployment.request(gateway, `/api/v1/entities/item-${s}`);
      counts[`item-${s}`] = ((await response.json()) as { eventCount: number }).eventCount;
    }
    return { ids, counts };
  };

  it('resumes the rebuilds after a restart and ends with read models identical to before', async () => {
    for (let i = 0; i < TOTAL; i += 1000) {
      const response = await deployment.request(gateway, '/api/v1/events', {
        method: 'POST',
        json: Array.from({ length: 1000 }, (_, j) => ({ specversion: '1.0', id: `e-${i + j}`, source: 'urn:stock', type: (i + j) % 2 === 0 ? 'item.counted' : 'item.moved', subject: `item-${(i + j) % SUBJECTS}`, data: { n: i + j } })),
      });
      expect(response.status).toBe(202);
    }
    await eventually('the read models caught up', async () => {
      const all = await statuses();
      return all.events?.checkpoint === all.events?.head && all.entities?.checkpoint === all.entities?.head && (all.events?.head ?? 0) >= TOTAL ? true : undefined;
    }, { timeoutMs: 180_000, intervalMs: 250 });
    const before = await readModels();
    expect(before.ids).toHaveLength(TOTAL);
    expect(Object.values(before.counts).every((n) => n === PER_SUBJECT)).toBe(true);
    const versionsBefore = await statuses();

    const targets: Record<string, number> = {};
    for (const name of ['events', 'entities']) {
      const response = await deployment.request(gateway, `/api/v1/admin/projections/${name}/rebuild`, { method: 'POST' });
      expect(response.status).toBe(202);
      targets[name] = ((await response.json()) as { targetVersion: number }).targetVersion;
      expect(targets[name]).toBeGreaterThan(versionsBefore[name]?.activeVersion ?? 0);
    }

    // Killed while both rebuilds are part-way.
    await eventually('both rebuilds part-way', async () => {
      const all = await statuses();
      const partWay = (s?: ProjectionStatus) => s?.state === 'rebuilding' && s.rebuild !== undefined && s.rebuild.position > 0 && s.rebuild.position < s.rebuild.head;
      return partWay(all.events) && partWay(all.entities) ? true : undefined;
    }, { timeoutMs: 120_000, intervalMs: 10 });
    await deployment.kill(projector);

    // Nothing switched: the state table still asks for both rebuilds, and queries read the old versions.
    const whileDown = await statuses();
    for (const name of ['events', 'entities']) {
      expect(whileDown[name]).toMatchObject({ state: 'rebuilding', activeVersion: versionsBefore[name]?.activeVersion, rebuild: { targetVersion: targets[name] } });
      expect(whileDown[name]?.rebuild?.position).toBeLessThan(whileDown[name]?.rebuild?.head ?? 0);
    }
    expect(await readModels()).toEqual(before);

    await deployment.restart(projector);
    const after = await eventually('both rebuilds switched', async () => {
      const all = await statuses();
      const done = (name: string) => all[name]?.state === 'live' && all[name]?.activeVersion === targets[name] && all[name]?.checkpoint === all[name]?.head;
      return done('events') && done('entities') ? all : undefined;
    }, { timeoutMs: 300_000, intervalMs: 250 });
    for (const name of ['events', 'entities']) expect(after[name]?.lastError).toBeUndefined();

    const rebuilt = await readModels();
    expect(repeated(rebuilt.ids)).toEqual({});
    expect(rebuilt).toEqual(before);
  });
});
