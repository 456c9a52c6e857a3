import { Kafka, logLevel } from 'kafkajs';
import { createDeployment, KAFKA_BROKERS, type AppProcess, type DistributedDeployment } from '../../test/e2e/support/distributed-processes';
import type { CpuRole } from './distributed-cpu';
import { INGESTED_TYPE, REACTION_TYPE } from './distributed-load';
import { profilerEnv } from './distributed-profile';

/**
 * The distributed mode as the benchmark runs it: gateway, runtime and projector as their own OS
 * processes (the e2e harness's `createDeployment`: `npm run start:<app>`'s command line, a fresh
 * PostgreSQL schema, Kafka topic prefix and Redis prefix), with the configuration's default
 * partition counts unless BENCH_DIST_PARTITIONS_* say otherwise.
 */

export { KAFKA_BROKERS };

export interface BenchDeployment {
  readonly deployment: DistributedDeployment;
  readonly gateway: AppProcess;
  readonly runtime: AppProcess;
  readonly projector: AppProcess;
  readonly partitions: { readonly inbound: number; readonly events: number; readonly mailbox: number };
  /** The apps' pids by role, for CPU accounting. */
  readonly roles: ReadonlyMap<number, CpuRole>;
  readonly startedMs: number;
}

export interface DeploymentOptions {
  readonly partitions: { readonly inbound: number; readonly events: number; readonly mailbox: number };
  /** Makes the runtime profilable (distributed-profile.ts) with its profiles in this directory; null: not. */
  readonly runtimeCpuProfileDir: string | null;
}

export async function startDeployment(options: DeploymentOptions): Promise<BenchDeployment> {
  const started = performance.now();
  const deployment = await createDeployment('bench', {
    MERIDIAN_KAFKA_PARTITIONS_INBOUND: String(options.partitions.inbound),
    MERIDIAN_KAFKA_PARTITIONS_EVENTS: String(options.partitions.events),
    MERIDIAN_KAFKA_PARTITIONS_MAILBOX: String(options.partitions.mailbox),
    LOG_LEVEL: process.env.BENCH_DIST_APP_LOGS ?? 'warn',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  });
  try {
    const runtimeEnv: Record<string, string> = options.runtimeCpuProfileDir ? profilerEnv(options.runtimeCpuProfileDir) : {};
    // The runtime first: it creates the topics; the others find them.
    const runtime = await deployment.start('runtime', runtimeEnv);
    const [projector, gateway] = await Promise.all([deployment.start('projector'), deployment.start('gateway')]);
    const roles = new Map<number, CpuRole>([
      [gateway.child.pid ?? 0, 'gateway'],
      [runtime.child.pid ?? 0, 'runtime'],
      [projector.child.pid ?? 0, 'projector'],
    ]);
    return { deployment, gateway, runtime, projector, partitions: options.partitions, roles, startedMs: performance.now() - started };
  } catch (error) {
    await deployment.close().catch(() => undefined);
    throw error;
  }
}

/**
 * `count` rules agents: agent i reacts to the events whose `data.shard` is i (a JSON Logic filter
 * on its one subscription), so every event gets exactly one decision and one emitted
 * `REACTION_TYPE` event that names it (`data.of`) and echoes its send time (`data.sentAt`).
 */
export async function defineAgents(bench: BenchDeployment, count: number, type: string = INGESTED_TYPE): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index++) {
    const response = await bench.deployment.request(bench.gateway, '/api/v1/agents', {
      method: 'POST',
      json: {
        name: `dist-reactor-${type.replace(/[^A-Za-z0-9]+/g, '-')}-${index}`,
        kind: 'monitor',
        subscriptions: [{ type, filter: { '==': [{ var: 'data.shard' }, index] } }],
        engine: {
          type: 'rules',
          rules: [{ then: [{ action: 'emit-event', eventType: REACTION_TYPE, subject: '{{event.subject}}', data: { of: '{{event.id}}', sentAt: '{{event.data.sentAt}}' } }] }],
        },
        tools: ['emit-event'],
      },
    });
    const body = await response.text();
    if (response.status !== 201) throw new Error(`POST /api/v1/agents (agent ${index}) → ${response.status}: ${body.slice(0, 500)}`);
    ids.push((JSON.parse(body) as { id: string }).id);
  }
  return ids;
}

/** Largest lag of any projection (the projector's), or null when the gateway does not answer. */
export async function projectionLag(bench: BenchDeployment): Promise<number | null> {
  try {
    const response = await bench.deployment.request(bench.gateway, '/api/v1/admin/projections');
    if (response.status !== 200) return null;
    const items = ((await response.json()) as { items?: { lag?: unknown }[] }).items ?? [];
    return Math.max(0, ...items.map((p) => (typeof p.lag === 'number' ? p.lag : 0)));
  } catch {
    return null;
  }
}


/**
 * Stops the apps, drops the schema and the topics (the harness's close), then removes the
 * deployment's consumer groups, which the broker would otherwise keep.
 */
export async function closeDeployment(bench: BenchDeployment): Promise<void> {
  await bench.deployment.close();
  const admin = new Kafka({ brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith(`${bench.deployment.topicPrefix}.`));
    if (groups.length > 0) await admin.deleteGroups(groups);
  } catch {
    // Best effort: a group still being left by a stopping consumer is removed by the broker later.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
