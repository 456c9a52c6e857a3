/**
 * What the fault-injection suites of the distributed mode share: a producer writing CloudEvents to
 * a deployment's `<prefix>.inbound` as a business system would (acks=all: a resolved send is an
 * acknowledged event), readers that page through the API and count, direct counts in the event
 * store, and a webhook receiver that answers slowly (so a kill lands while a call is in flight).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { PG_URL } from '../../support/services';
import type { AppProcess, DistributedDeployment } from './distributed-processes';

export type Json = Record<string, unknown>;

/** A CloudEvent as a producer writes it (structured mode), keyed by subject as DESIGN §6 asks. */
export function structuredCloudEvent(event: { id: string; source: string; type: string; subject?: string; data?: unknown }): Message {
  return {
    key: event.subject ?? null,
    value: JSON.stringify({ specversion: '1.0', ...event }),
    headers: { 'content-type': 'application/cloudevents+json' },
  };
}

/** An idempotent kafkajs producer for one broker list; every send waits for acks from all in-sync replicas. */
export class InboundProducer {
  private constructor(private readonly producer: Producer) {}

  static async connect(brokers: string): Promise<InboundProducer> {
    const kafka = new Kafka({ clientId: 'fault-test-producer', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    return new InboundProducer(producer);
  }

  /** Resolves once the broker has acknowledged every message (acks=all). */
  async send(topic: string, messages: Message[]): Promise<void> {
    await this.producer.send({ topic, acks: -1, messages });
  }

  close(): Promise<void> {
    return this.producer.disconnect().catch(() => undefined);
  }
}

/** Every item of a paged list endpoint (`items` + `nextCursor`), 500 per page. */
export async function listAll<T = Json>(deployment: DistributedDeployment, app: AppProcess, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (;;) {
    const separator = path.includes('?') ? '&' : '?';
    const url = `${path}${separator}limit=500${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await deployment.request(app, url);
    if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
    const page = (await response.json()) as { items: T[]; nextCursor: string | null };
    items.push(...page.items);
    if (page.nextCursor === null) return items;
    cursor = page.nextCursor;
  }
}

/** One query against the deployment's schema (the shared event store and read models). */
export async function queryStore<R = Json>(schema: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`set search_path to "${schema}"`);
    return (await client.query(sql, params)).rows as R[];
  } finally {
    await client.end();
  }
}

/** How many events of `type` the event store holds (rows, so a duplicate would count twice). */
export async function storedCount(schema: string, type: string): Promise<number> {
  const rows = await queryStore<{ n: string }>(schema, 'select count(*) as n from events where type = $1', [type]);
  return Number(rows[0]?.n ?? 0);
}

/** Values that occur more than once, with their counts (empty when all are distinct). */
export function repeated(values: readonly string[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return Object.fromEntries([...counts].filter(([, n]) => n > 1));
}

/** A metric's samples from a Prometheus text exposition, by label string (`{}` when it has none). */
export async function metricSamples(app: AppProcess, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
  const samples: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && match[1] === name) samples[match[2] ?? '{}'] = Number(match[3]);
  }
  return samples;
}

/**
 * A local `call-webhook` receiver that answers after `delayMs`, recording every delivery's
 * `Idempotency-Key` as it arrives (a call cut short by a kill is still seen).
 */
export class SlowWebhookReceiver {
  readonly keys: string[] = [];
  url = '';
  private server: Server | null = null;

  constructor(private readonly delayMs: number) {}

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', () => {
        this.keys.push(String(req.headers['idempotency-key']));
        setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), this.delayMs);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}/hook`;
  }

  close(): Promise<void> {
    const server = this.server;
    if (server === null) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

/**
 * Agents that each take the `tick` events carrying their id and emit `tick.seen` with the tick's
 * agent and sequence number, one input at a time: what the order checks of the fault tests read.
 */
export async function createTickAgents(deployment: DistributedDeployment, gateway: AppProcess, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const created = await deployment.request(gateway, '/api/v1/agents', {
      method: 'POST',
      json: {
        id,
        name: id,
        kind: 'monitor',
        subscriptions: [{ type: 'tick', filter: { '==': [{ var: 'data.agent' }, id] } }],
        mailboxPolicy: 'queue',
        engine: { type: 'rules', rules: [{ then: [{ action: 'emit-event', eventType: 'tick.seen', subject: id, data: { agent: '{{event.data.agent}}', seq: '{{event.data.seq}}' } }] }] },
        tools: ['emit-event'],
      },
    });
    if (created.status !== 201) throw new Error(`agent ${id} not created: ${created.status} ${await created.text()}`);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
