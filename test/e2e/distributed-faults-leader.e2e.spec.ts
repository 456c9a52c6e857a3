import { eventually } from './support/eventually';
import { createDeployment, describeDistributed, type AppProcess, type DistributedDeployment } from './support/distributed-processes';
import { createTickAgents, queryStore, repeated, sleep } from './support/distributed-faults';

jest.setTimeout(600_000);

const AGENTS = Array.from({ length: 6 }, (_, i) => `lead-${i}`);
const SEQS = 60;

/**
 * The leader lock's connection cut while its process lives on (a PostgreSQL restart, a failover,
 * a dropped connection): the leader must stop its singletons (router, relays, triggers) and a
 * replica — either one — must take the lead again, with every input routed, handled and reacted
 * to exactly once and in order, however often it happens.
 */
describeDistributed()('distributed faults: the leader lock connection cut under two runtime replicas', () => {
  let deployment: DistributedDeployment;
  let gateway: AppProcess;
  let runtimes: AppProcess[];

  beforeAll(async () => {
    deployment = await createDeployment('fault_leader');
    const started = await Promise.all([deployment.start('projector'), deployment.start('gateway'), deployment.start('runtime'), deployment.start('runtime')]);
    gateway = started[1];
    runtimes = started.slice(2);
  }, 180_000);

  afterAll(async () => {
    await deployment?.close();
  }, 60_000);

  const leaders = async (): Promise<number> => {
    let count = 0;
    for (const runtime of runtimes) {
      const response = await fetch(`${runtime.baseUrl}/health/ready`);
      if (response.status !== 200) continue;
      const body = (await response.json()) as { details: { kafkaConsumers: { leader?: boolean } } };
      if (body.details.kafkaConsumers.leader === true) count += 1;
    }
    return count;
  };

  /** This deployment's sessions holding an advisory lock: the leader's (its application_name names the schema). */
  const LOCK_HOLDERS = `select a.pid from pg_stat_activity a join pg_locks l on l.pid = a.pid
    where l.locktype = 'advisory' and l.granted and a.application_name like 'meridian-leader-runtime:' || $1 || ':%'`;
  const lockHolders = async (): Promise<number[]> => (await queryStore<{ pid: number }>(deployment.schema, LOCK_HOLDERS, [deployment.schema])).map((row) => row.pid);

  /** Terminates the leader's lock session, as a database restart or a dropped connection would; its pids. */
  const cutLeaderConnection = async (): Promise<number[]> =>
    (await queryStore<{ pid: number }>(deployment.schema, `select pid, pg_terminate_backend(pid) from (${LOCK_HOLDERS}) holders`, [deployment.schema])).map((row) => row.pid);

  const emitted = async (): Promise<Record<string, number[]>> => {
    const rows = await queryStore<{ agent: string; seq: string }>(deployment.schema, "select data->>'agent' as agent, data->>'seq' as seq from events where type = 'tick.seen' order by position");
    const byAgent: Record<string, number[]> = Object.fromEntries(AGENTS.map((agent) => [agent, []]));
    for (const row of rows) (byAgent[row.agent] ??= []).push(Number(row.seq));
    return byAgent;
  };

  it('a new leader takes over each time, and every input is routed, decided and reacted to once, in order', async () => {
    await eventually('one leader', async () => ((await leaders()) === 1 ? true : undefined), { timeoutMs: 60_000, intervalMs: 250 });
    await createTickAgents(deployment, gateway, AGENTS);

    // Ticks keep coming while the leader's lock connection is cut three times.
    let sent = 0;
    const ingesting = (async () => {
      for (let seq = 0; seq < SEQS; seq += 1) {
        const response = await deployment.request(gateway, '/api/v1/events', {
          method: 'POST',
          json: AGENTS.map((agent) => ({ specversion: '1.0', id: `${agent}-${seq}`, source: 'urn:clock', type: 'tick', subject: agent, data: { agent, seq } })),
        });
        expect(response.status).toBe(202);
        sent = seq + 1;
        await sleep(50);
      }
    })();
    for (let cut = 1; cut <= 3; cut += 1) {
      await eventually(`ticks before cut ${cut}`, async () => (sent >= (cut * SEQS) / 4 ? true : undefined), { timeoutMs: 60_000, intervalMs: 10 });
      const cutOff = await cutLeaderConnection();
      expect(cutOff).toHaveLength(1);
      await eventually(
        `a leader again after cut ${cut}`,
        async () => {
          const holders = await lockHolders();
          return holders.length === 1 && !cutOff.includes(holders[0] as number) && (await leaders()) === 1 ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
    }
    await ingesting;

    await eventually('every tick reacted to', async () => (Object.values(await emitted()).every((seqs) => seqs.length >= SEQS) ? true : undefined), { timeoutMs: 180_000, intervalMs: 250 });
    await sleep(3_000);
    const all = await emitted();
    for (const agent of AGENTS) {
      expect({ agent, repeated: repeated(all[agent]?.map(String) ?? []) }).toEqual({ agent, repeated: {} });
      expect({ agent, seqs: all[agent] }).toEqual({ agent, seqs: Array.from({ length: SEQS }, (_, i) => i) });
    }
    const inputs = await queryStore<{ n: string }>(deployment.schema, "select count(*) as n from events where type = 'mailbox.input-enqueued'");
    expect(Number(inputs[0]?.n)).toBe(AGENTS.length * SEQS);
    expect(await leaders()).toBe(1);
  });

});
