import { eventually } from './support/eventually';
import { createDeployment, describeDistributed, type AppProcess, type DistributedDeployment } from './support/distributed-processes';
import { InboundProducer, listAll, repeated, sleep, storedCount, structuredCloudEvent, type Json } from './support/distributed-faults';
import { PrivateKafkaBroker } from './support/private-kafka-broker';
import { WebhookReceiver } from './support/webhook-receiver';

jest.setTimeout(600_000);

/**
 * The Kafka broker stopped (`kafka.sh stop`) and started again under a running deployment. Events
 * ingested over HTTP meanwhile are acknowledged — they are stored in PostgreSQL, Kafka only carries
 * them on — and once the broker is back the agents react to every one of them exactly once.
 *
 * The broker is the suite's own (PrivateKafkaBroker: other ports, its own data), never the shared
 * one: other suites use that one at the same time in other jest workers, and stopping it would fail
 * them. Whatever happens, afterAll stops and deletes the private broker; the shared one is never
 * touched.
 */
describeDistributed()('distributed faults: the Kafka broker stopped and started', () => {
  const receiver = new WebhookReceiver();
  let broker: PrivateKafkaBroker | null = null;
  let deployment: DistributedDeployment;
  let gateway: AppProcess;

  beforeAll(async () => {
    await receiver.start();
    broker = await PrivateKafkaBroker.start();
    deployment = await createDeployment('fault_broker', { MERIDIAN_KAFKA_BROKERS: broker.brokers });
    [, , gateway] = await Promise.all([deployment.start('projector'), deployment.start('runtime'), deployment.start('gateway')]);
  }, 300_000);

  afterAll(async () => {
    try {
      await deployment?.close();
    } finally {
      await broker?.destroy();
      await receiver.close();
    }
  }, 120_000);

  const ingest = async (from: number, to: number): Promise<void> => {
    const response = await deployment.request(gateway, '/api/v1/events', {
      method: 'POST',
      json: Array.from({ length: to - from }, (_, k) => ({ specversion: '1.0', id: `b-${from + k}`, source: 'urn:shop', type: 'order.placed', subject: `order-${from + k}`, data: { n: from + k } })),
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: to - from, duplicates: 0 });
  };

  it('acknowledges what is ingested while the broker is down, and the agents react to all of it exactly once when it is back', async () => {
    for (const [id, then] of [
      ['acker', { action: 'emit-event', eventType: 'order.acked', subject: '{{event.subject}}', data: { order: '{{event.id}}' } }],
      ['notifier', { action: 'call-webhook', url: receiver.url, body: { order: '{{event.id}}' } }],
    ] as const) {
      const created = await deployment.request(gateway, '/api/v1/agents', {
        method: 'POST',
        json: { id, name: id, kind: 'executor', subscriptions: [{ type: 'order.placed' }], mailboxPolicy: 'queue', engine: { type: 'rules', rules: [{ then: [then] }] }, tools: [then.action] },
      });
      expect(created.status).toBe(201);
    }

    // Before: the deployment works end to end on this broker.
    await ingest(0, 20);
    await eventually('the first orders reacted to', async () => ((await storedCount(deployment.schema, 'order.acked')) >= 20 && receiver.calls.length >= 20 ? true : undefined), { timeoutMs: 120_000, intervalMs: 200 });

    await broker?.stop();
    // While it is down: ingestion over HTTP is acknowledged and durable.
    for (let i = 20; i < 120; i += 10) await ingest(i, i + 10);
    expect(await storedCount(deployment.schema, 'order.placed')).toBe(120);
    // Stays down a while: the apps' clients retry and back off meanwhile.
    await sleep(5_000);
    expect(await storedCount(deployment.schema, 'order.acked')).toBeLessThan(120);

    await broker?.resume();
    await eventually(
      'every order reacted to',
      async () => ((await storedCount(deployment.schema, 'order.acked')) >= 120 && new Set(receiver.calls.map((call) => call.key)).size >= 120 ? true : undefined),
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    // A repeat would show up within this pause.
    await sleep(3_000);

    const orders = Array.from({ length: 120 }, (_, i) => `b-${i}`);
    expect(await storedCount(deployment.schema, 'order.placed')).toBe(120);
    const acked = await eventually('the reactions projected', async () => {
      const items = await listAll<{ data: { order: string } }>(deployment, gateway, '/api/v1/events?type=order.acked');
      return items.length >= 120 ? items : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    expect(acked.map((item) => item.data.order).sort()).toEqual([...orders].sort());

    // The webhook: one call per order, nothing repeated (no process died: nothing was in doubt).
    const keys = receiver.calls.map((call) => String(call.key));
    expect(repeated(keys)).toEqual({});
    expect(receiver.calls.map((call) => String(call.body.order)).sort()).toEqual([...orders].sort());
    const decisions = await listAll<Json>(deployment, gateway, '/api/v1/agents/notifier/decisions');
    expect(decisions).toHaveLength(120);
    expect(keys.sort()).toEqual(decisions.map((d) => `${String(d.decisionId)}:0`).sort());
  });
  it('killed with -9 while events flow in over <prefix>.inbound and HTTP: every acknowledged event is stored and reacted to exactly once', async () => {
    const ordersBefore = await storedCount(deployment.schema, 'order.placed');
    const callsBefore = receiver.calls.length;
    const inbound = `${deployment.topicPrefix}.inbound`;
    const viaKafka = Array.from({ length: 200 }, (_, i) => ({ id: `k-${i}`, source: 'urn:shop', type: 'order.placed', subject: `korder-${i}`, data: { n: i } }));
    let producer = await InboundProducer.connect(broker?.brokers ?? '');
    let sentBatches = 0;
    // A business system's producer: a batch not acknowledged is sent again (same CloudEvent ids).
    const producing = (async () => {
      for (let i = 0; i < viaKafka.length; i += 20) {
        for (;;) {
          try {
            await producer.send(inbound, viaKafka.slice(i, i + 20).map(structuredCloudEvent));
            break;
          } catch {
            await producer.close();
            await sleep(500);
            producer = await InboundProducer.connect(broker?.brokers ?? '').catch(() => producer);
          }
        }
        sentBatches += 1;
        await sleep(100);
      }
    })();
    let httpBatches = 0;
    const overHttp = (async () => {
      for (let i = 200; i < 300; i += 10) {
        await ingest(i, i + 10);
        httpBatches += 1;
        await sleep(150);
      }
    })();

    await eventually('events flowing', async () => (sentBatches >= 3 && httpBatches >= 2 ? true : undefined), { timeoutMs: 60_000, intervalMs: 10 });
    await broker?.kill();
    await sleep(3_000);
    await broker?.resume();
    await Promise.all([producing, overHttp]);
    await producer.close();

    const total = ordersBefore + viaKafka.length + 100;
    await eventually(
      'every order stored and reacted to',
      async () =>
        (await storedCount(deployment.schema, 'order.placed')) >= total && (await storedCount(deployment.schema, 'order.acked')) >= total && new Set(receiver.calls.map((call) => call.key)).size >= total
          ? true
          : undefined,
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    await sleep(3_000);
    expect(await storedCount(deployment.schema, 'order.placed')).toBe(total);
    const acked = await listAll<{ data: { order: string } }>(deployment, gateway, '/api/v1/events?type=order.acked');
    expect(repeated(acked.map((item) => item.data.order))).toEqual({});
    expect(acked.map((item) => item.data.order).filter((order) => order.startsWith('k-')).sort()).toEqual(viaKafka.map((event) => event.id).sort());
    expect(acked).toHaveLength(total);
    // The runtime never died: no call was in doubt, none is repeated.
    const keys = receiver.calls.slice(callsBefore).map((call) => String(call.key));
    expect(keys).toHaveLength(total - ordersBefore);
    expect(repeated(keys)).toEqual({});
  });
});
