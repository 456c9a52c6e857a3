/**
 * The distributed mode as a user runs it: gateway, runtime and projector as separate OS processes
 * (`npm run start:<app>`'s command), on real PostgreSQL, Redis and Kafka. Each deployment gets its
 * own PostgreSQL schema, Kafka topic prefix and Redis channel prefix, so suites never see each
 * other's data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { join } from 'node:path';
import { createTestSchema, PG_URL } from '../../support/services';
import { freePort, killHard } from './standalone-process';

const ROOT = join(__dirname, '..', '..', '..');

export const DISTRIBUTED_ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const KAFKA_BROKERS = process.env.KAFKA_BROKERS && process.env.KAFKA_BROKERS !== '' ? process.env.KAFKA_BROKERS : '127.0.0.1:9092';
export const REDIS_URL = process.env.MERIDIAN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type AppName = 'gateway' | 'runtime' | 'projector';

export interface AppProcess {
  readonly app: AppName;
  readonly port: number;
  readonly baseUrl: string;
  child: ChildProcess;
  output(): string;
}

export interface DistributedDeployment {
  /** Environment shared by every app of this deployment (schema, prefixes, brokers, admin key). */
  readonly env: Readonly<Record<string, string>>;
  readonly schema: string;
  readonly topicPrefix: string;
  readonly redisPrefix: string;
  readonly apiKey: string;
  readonly apps: AppProcess[];
  /** Starts one more app process and waits until it listens and `/health/ready` answers 200. */
  start(app: AppName, extraEnv?: Record<string, string>): Promise<AppProcess>;
  /** `kill -9`. */
  kill(process: AppProcess): Promise<void>;
  /** Starts the same app again on the same port. */
  restart(process: AppProcess): Promise<AppProcess>;
  /** fetch against an app with the admin key (JSON body when `json` is given). */
  request(target: AppProcess, path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** Stops every process (SIGKILL after a grace period) and drops the schema. */
  close(): Promise<void>;
}

const APP_ENTRY: Record<AppName, string> = {
  gateway: 'apps/gateway/src/main.ts',
  runtime: 'apps/runtime/src/main.ts',
  projector: 'apps/projector/src/main.ts',
};

/** A fresh deployment: a schema, prefixes; no process yet (call `start`). */
export async function createDeployment(name: string, extraEnv: Record<string, string> = {}): Promise<DistributedDeployment> {
  const { schema, drop } = await createTestSchema(`dist_${name}`);
  const prefix = schema.replace(/_/g, '-');
  const env: Record<string, string> = {
    MERIDIAN_EVENT_STORE: 'postgres',
    MERIDIAN_READ_MODELS: 'postgres',
    MERIDIAN_POSTGRES_URL: PG_URL,
    MERIDIAN_POSTGRES_SCHEMA: schema,
    MERIDIAN_KAFKA_BROKERS: KAFKA_BROKERS,
    MERIDIAN_KAFKA_TOPIC_PREFIX: prefix,
    MERIDIAN_KAFKA_PARTITIONS_INBOUND: '4',
    MERIDIAN_KAFKA_PARTITIONS_EVENTS: '4',
    MERIDIAN_KAFKA_PARTITIONS_MAILBOX: '8',
    MERIDIAN_REDIS_URL: REDIS_URL,
    MERIDIAN_REDIS_PREFIX: prefix,
    MERIDIAN_ADMIN_API_KEY: DISTRIBUTED_ADMIN_KEY,
    LOG_LEVEL: process.env.MERIDIAN_TEST_APP_LOGS ?? 'warn',
    ...extraEnv,
  };
  const apps: AppProcess[] = [];
  const starting = new Set<ChildProcess>();

  const spawnApp = async (app: AppName, port: number, more: Record<string, string>): Promise<AppProcess> => {
    // The same Node options as `npm run start:<app>` (package.json).
    const child = spawn(process.execPath, ['--max-semi-space-size=64', require.resolve('ts-node/dist/bin.js'), '--swc', '-r', 'tsconfig-paths/register', APP_ENTRY[app]], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...more, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const proc: AppProcess = { app, port, baseUrl: `http://127.0.0.1:${port}`, child, output: () => output };
    // Tracked before it is ready: one that never gets there is still stopped by close().
    starting.add(child);
    try {
      await waitReady(proc);
    } finally {
      starting.delete(child);
    }
    return proc;
  };

  const deployment: DistributedDeployment = {
    env,
    schema,
    topicPrefix: prefix,
    redisPrefix: prefix,
    apiKey: DISTRIBUTED_ADMIN_KEY,
    apps,
    start: async (app, more = {}) => {
      const proc = await spawnApp(app, await freePort(), more);
      apps.push(proc);
      return proc;
    },
    kill: async (proc) => killHard(proc.child),
    restart: async (proc) => {
      await killHard(proc.child);
      const fresh = await spawnApp(proc.app, proc.port, {});
      proc.child = fresh.child;
      Object.assign(proc, { output: fresh.output });
      return proc;
    },
    request: (target, path, init = {}) => {
      const { json, headers, ...rest } = init;
      const h = new Headers(headers);
      if (!h.has('x-api-key') && !h.has('authorization')) h.set('x-api-key', DISTRIBUTED_ADMIN_KEY);
      if (json !== undefined && !h.has('content-type')) h.set('content-type', 'application/json');
      return fetch(target.baseUrl + path, { ...rest, headers: h, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
    },
    close: async () => {
      await Promise.all([...apps.map((proc) => proc.child), ...starting].map((child) => stopGracefully(child)));
      await drop();
      await deleteTopics(prefix);
    },
  };
  return deployment;
}

/** The deployment's topics go with it (a broker shared by many suites would otherwise fill up). */
async function deleteTopics(prefix: string): Promise<void> {
  const admin = new Kafka({ brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(`${prefix}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } catch {
    // Best effort: a broker stopped by a fault test may still be coming back.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function waitReady(proc: AppProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | null = null;
  proc.child.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));
  for (;;) {
    if (exited !== null) throw new Error(`${proc.app} ${exited}:\n${proc.output()}`);
    try {
      const response = await fetch(`${proc.baseUrl}/health/ready`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${proc.app} not ready in ${timeoutMs} ms:\n${proc.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function stopGracefully(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Skips loudly (fails in CI) unless PostgreSQL, Redis and Kafka all answered the global probes. */
export { describeDistributed } from '../../support/services';
