import { createDeployment, describeDistributed, type AppProcess, type DistributedDeployment } from './support/distributed-processes';

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
    const deadline = Date.now() + 30_000;
    let types: string[] = [];
    while (Date.now() < deadline) {
      const page = (await (await deployment.request(gateway, '/api/v1/events?subject=order-a')).json()) as { items: { type: string }[] };
      types = page.items.map((item) => item.type);
      if (types.includes('order.flagged')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(types).toEqual(['order.placed', 'order.flagged']);
    const other = (await (await deployment.request(gateway, '/api/v1/events?subject=order-b')).json()) as { items: { type: string }[] };
    expect(other.items.map((item) => item.type)).toEqual(['order.placed']);
  });
});
