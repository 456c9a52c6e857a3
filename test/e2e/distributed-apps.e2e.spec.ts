import { spawn, spawnSync } from 'node:child_process';
import { Client } from 'pg';
import { PG_URL } from '../support/services';
import { createDeployment, KAFKA_BROKERS, describeDistributed, type AppProcess, type DistributedDeployment } from './support/distributed-processes';

const kcatInstalled = spawnSync('kcat', ['-V'], { timeout: 5000 }).status === 0;

/** Produces one message with kcat (Debian's Kafka command-line client), as an external system would. */
function kcat(topic: string, key: string, value: string, headers: Record<string, string>): Promise<void> {
  const args = ['-P', '-b', KAFKA_BROKERS.split(',')[0], '-t', topic, '-k', key, '-X', 'acks=all', ...Object.entries(headers).flatMap(([name, v]) => ['-H', `${name}=${v}`])];
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited with ${code}: ${stderr}`))));
    child.stdin.end(`${value}\n`);
  });
}

async function eventTypes(deployment: DistributedDeployment, gateway: AppProcess, subject: string, until: string): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  let types: string[] = [];
  while (Date.now() < deadline) {
    const page = (await (await deployment.request(gateway, `/api/v1/events?subject=${encodeURIComponent(subject)}`)).json()) as { items: { type: string }[] };
    types = page.items.map((item) => item.type);
    if (types.includes(until)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return types;
}

describeDistributed()('distributed mode: three apps as separate processes', () => {
  let deployment: DistributedDeployment;
  let gateway: AppProcess;
  let runtime: AppProcess;
  let projector: AppProcess;

  beforeAll(async () => {
    deployment = await createDeployment('apps');
    [projector, runtime, gateway] = await Promise.all([deployment.start('projector'), deployment.start('runtime'), deployment.start('gateway')]);
  }, 180_000);

  afterAll(async () => {
    await deployment?.close();
  }, 60_000);

  it("each app's /health/ready checks its own dependencies", async () => {
    const ready = async (app: AppProcess) => ((await (await fetch(`${app.baseUrl}/health/ready`)).json()) as { status: string; details: Record<string, { status: string }> });
    const [g, r, p] = await Promise.all([ready(gateway), ready(runtime), ready(projector)]);
    expect(g.status).toBe('ok');
    expect(Object.keys(g.details).sort()).toEqual(['eventStore', 'kafka', 'readModels', 'redis']);
    expect(Object.keys(r.details).sort()).toEqual(['eventStore', 'kafka', 'kafkaConsumers', 'readModels']);
    expect(Object.keys(p.details).sort()).toEqual(['eventStore', 'kafka', 'kafkaConsumers', 'readModels']);
    for (const app of [gateway, runtime, projector]) expect((await fetch(`${app.baseUrl}/metrics`)).status).toBe(200);
    // The runtime reports its consumer groups' lag and, leading, the relay's.
    const metrics = await (await fetch(`${runtime.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`meridian_kafka_consumer_lag_messages\\{group="${deployment.topicPrefix}\\.runtime\\.mailbox",topic="${deployment.topicPrefix}\\.mailbox"\\} \\d+`));
    expect(metrics).toMatch(/meridian_kafka_relay_lag_events \d+/);

  });

  it('an event ingested through the gateway is stored, projected, and reacted to by a rules agent run by the runtime', async () => {
    const created = await deployment.request(gateway, '/api/v1/agents', {
      method: 'POST',
      json: {
        name: 'flagger',
        kind: 'monitor',
        subscriptions: [{ type: 'order.placed' }],
        engine: { type: 'rules', rules: [{ when: { '>': [{ var: 'event.data.amount' }, 100] }, then: [{ action: 'emit-event', eventType: 'order.flagged', subject: '{{event.subject}}' }] }] },
        tools: ['emit-event'],
      },
    });
    expect(created.status).toBe(201);
    const ingested = await deployment.request(gateway, '/api/v1/events', {
      method: 'POST',
      json: [
        { specversion: '1.0', id: 'a-1', source: 'urn:shop', type: 'order.placed', subject: 'order-a', data: { amount: 500 } },
        { specversion: '1.0', id: 'a-2', source: 'urn:shop', type: 'order.placed', subject: 'order-b', data: { amount: 5 } },
      ],
    });
    expect(ingested.status).toBe(202);
    expect(await ingested.json()).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(await eventTypes(deployment, gateway, 'order-a', 'order.flagged')).toEqual(['order.placed', 'order.flagged']);
    const other = (await (await deployment.request(gateway, '/api/v1/events?subject=order-b')).json()) as { items: { type: string }[] };
    expect(other.items.map((item) => item.type)).toEqual(['order.placed']);
    // The decision is counted by the runtime app only, so a sum over the apps counts it once.
    const decided = async (app: AppProcess) => Number(/meridian_decisions_total\{engine="rules",outcome="decided"\} (\d+)/.exec(await (await fetch(`${app.baseUrl}/metrics`)).text())?.[1] ?? 0);
    expect(await decided(runtime)).toBe(1);
    expect([await decided(gateway), await decided(projector)]).toEqual([0, 0]);
  });

  (kcatInstalled || process.env.CI === 'true' ? it : it.skip)('external producers write CloudEvents to the inbound topic with kcat, structured and binary mode, with trace context in the headers', async () => {
    const topic = `${deployment.topicPrefix}.inbound`;
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await kcat(topic, 'order-k1', JSON.stringify({ specversion: '1.0', id: 'k-1', source: 'urn:erp', type: 'order.placed', subject: 'order-k1', data: { amount: 900 } }), {
      'content-type': 'application/cloudevents+json',
      traceparent,
    });
    await kcat(topic, 'order-k2', JSON.stringify({ amount: 700 }), {
      ce_specversion: '1.0',
      ce_id: 'k-2',
      ce_source: 'urn:erp',
      ce_type: 'order.placed',
      ce_subject: 'order-k2',
      'content-type': 'application/json',
    });
    // The agent of the previous case flags both (amount > 100): stored once, routed, decided, projected.
    expect(await eventTypes(deployment, gateway, 'order-k1', 'order.flagged')).toEqual(['order.placed', 'order.flagged']);
    expect(await eventTypes(deployment, gateway, 'order-k2', 'order.flagged')).toEqual(['order.placed', 'order.flagged']);
    const entity = (await (await deployment.request(gateway, '/api/v1/entities/order-k2')).json()) as { state: Record<string, unknown> };
    expect(entity.state).toMatchObject({ amount: 700 });
    const history = (await (await deployment.request(gateway, '/api/v1/events?subject=order-k1')).json()) as { items: { id: string; source: string; eventId: string }[] };
    expect(history.items[0]).toMatchObject({ id: 'k-1', source: 'urn:erp' });
    // The trace context of the Kafka message is kept with the stored event.
    const client = new Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const rows = await client.query<{ type: string; traceparent: string | null }>(
        `select type, metadata->>'traceparent' as traceparent from "${deployment.schema}".events where stream_name like '%entity-order-k1' order by position`,
      );
      expect(rows.rows[0]).toEqual({ type: 'order.placed', traceparent });
    } finally {
      await client.end();
    }
    if (!kcatInstalled) throw new Error('kcat is required in CI (apt-get install kcat)');
  });
});
