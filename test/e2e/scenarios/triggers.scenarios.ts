import type { Json, ScenarioApi } from './scenario-api';

/** Scenarios about triggers: agents that act without being asked. */

/** README "Triggers": a burst detector whose emitted event an agent reacts to. */
export async function thresholdTrigger(api: ScenarioApi): Promise<void> {
  const failed = `payment-${api.run}.failed`;
  const degraded = `payments-${api.run}.degraded`;
  const agent = await api.post('/api/v1/agents', {
    name: `payments-watch-${api.run}`,
    kind: 'monitor',
    subscriptions: [{ type: degraded }],
    engine: { type: 'rules', rules: [{ then: [{ action: 'remember', key: 'degraded', value: 'after {{event.data.failures}} failures' }] }] },
    tools: ['remember'],
  });
  const trigger = await api.post(
    '/api/v1/triggers',
    {
      name: `payment-failures-${api.run}`,
      agentId: agent.id,
      condition: { kind: 'threshold', match: { type: failed, filter: { '>=': [{ var: 'data.amount' }, 10] } }, count: 3, within: 'PT1M', per: 'global' },
      action: { kind: 'emit-event', eventType: degraded, subject: `payments-${api.run}`, data: { failures: '{{events.length}}' } },
    },
    'A',
  );
  const triggerId = trigger.id as string;
  // Event time an hour ago (windows run on event time): a burst of five failures, one second apart.
  const start = Date.now() - 60 * 60_000;
  const burst = Array.from({ length: 5 }, (_, i) => ({
    specversion: '1.0',
    id: `${api.run}-failure-${i}`,
    source: 'urn:payments',
    type: failed,
    subject: `payment-${api.run}-${i}`,
    time: new Date(start + i * 1000).toISOString(),
    data: { amount: 50 },
  }));
  expect(await api.post('/api/v1/events', burst, 'B')).toMatchObject({ accepted: 5, duplicates: 0 });

  const view = await api.eventually('the five failures evaluated and the firing counted', async () => {
    const body = await api.get(`/api/v1/triggers/${triggerId}`, 'B');
    const stats = (body.evaluation as { stats?: Json } | null)?.stats;
    return stats !== undefined && stats.evaluations === 5 && stats.firings === 1 ? body : undefined;
  });
  expect(view).toMatchObject({ firingCount: 1, evaluation: { stats: expect.objectContaining({ firings: 1, suppressed: 0, lateEvents: 0, refused: 0 }) } });
  const firings = await api.items(`/api/v1/triggers/${triggerId}/firings`, 'A');
  expect(firings).toHaveLength(1);
  expect(firings[0]).toMatchObject({ late: false, firedAt: new Date(start + 2000).toISOString() });
  expect((firings[0].matchedEvents as Json[]).map((matched) => matched.subject)).toEqual([0, 1, 2].map((i) => `payment-${api.run}-${i}`));

  // The action: one event in the store, and the agent subscribed to it woke up once.
  const emitted = await api.eventually('the emitted event', async () => {
    const items = await api.items(`/api/v1/events?type=${degraded}`, 'A');
    return items.length > 0 ? items : undefined;
  });
  expect(emitted).toEqual([expect.objectContaining({ type: degraded, subject: `payments-${api.run}`, data: { failures: '3' } })]);
  const decisions = await api.eventually('the agent woken by the emitted event', async () => {
    const items = await api.items(`/api/v1/agents/${String(agent.id)}/decisions`, 'B');
    return items.length > 0 && (items[0].actions as Json[]).every((action) => action.status !== 'pending') ? items : undefined;
  });
  expect(decisions).toHaveLength(1);
  expect(decisions[0]).toMatchObject({ status: 'decided', input: { kind: 'event', payload: { type: degraded } } });
  const history = await api.items(`/api/v1/agents/${String(agent.id)}/history?limit=100`, 'A');
  expect(history.filter((event) => event.type === 'agent.memory-updated').map((event) => event.data)).toEqual([expect.objectContaining({ key: 'degraded', value: 'after 3 failures' })]);
}

/** README "Try it: orders that do not ship", with this scenario's own types and subjects. */
export async function absenceTrigger(api: ScenarioApi): Promise<void> {
  const placed = `shipment-${api.run}.placed`;
  const shipped = `shipment-${api.run}.shipped`;
  const escalated = `shipment-${api.run}.escalated`;
  const agentId = `shipping-watch-${api.run}`;
  await api.post('/api/v1/agents', {
    id: agentId,
    name: 'shipping-watch',
    kind: 'monitor',
    tools: ['remember', 'emit-event'],
    engine: {
      type: 'rules',
      rules: [
        {
          then: [
            { action: 'remember', key: 'late-{{task.context.subject}}', value: '{{message.content}}' },
            { action: 'emit-event', eventType: escalated, subject: '{{task.context.subject}}' },
          ],
        },
      ],
    },
  });
  const trigger = await api.post('/api/v1/triggers', {
    name: 'unshipped-orders',
    agentId,
    condition: { kind: 'absence', first: { type: placed }, then: { type: shipped }, within: 'PT2M' },
    action: { kind: 'wake-agent', task: 'Order {{subject}} has not shipped' },
  });
  const triggerId = trigger.id as string;
  // Event time ten minutes ago: the two-minute windows are already over, they close at the engine's next tick.
  const at = new Date(Date.now() - 10 * 60_000).toISOString();
  const order = (n: number) => `order-${api.run}-${n}`;
  const event = (id: string, type: string, subject: string) => ({ specversion: '1.0', id: `${api.run}-${id}`, source: 'urn:shop', type, subject, time: at });
  await api.post('/api/v1/events', [event('p-1', placed, order(1)), event('p-2', placed, order(2)), event('s-2', shipped, order(2))], 'B');

  const firings = await api.eventually('the firing for the unshipped order', async () => {
    const items = await api.items(`/api/v1/triggers/${triggerId}/firings`, 'A');
    return items.length > 0 ? items : undefined;
  });
  expect(firings.map((firing) => firing.subject)).toEqual([order(1)]);
  expect(firings[0].matchedEvents).toEqual([expect.objectContaining({ type: placed, subject: order(1) })]);

  // The agent was woken with the task: it remembered it and escalated that order only.
  const escalations = await api.eventually('the escalation', async () => {
    const items = await api.items(`/api/v1/events?type=${escalated}`, 'B');
    return items.length > 0 ? items : undefined;
  });
  expect(escalations.map((item) => item.subject)).toEqual([order(1)]);
  const history = await api.items(`/api/v1/agents/${agentId}/history?limit=100`, 'A');
  expect(history.filter((item) => item.type === 'agent.memory-updated').map((item) => item.data)).toEqual([
    expect.objectContaining({ key: `late-${order(1)}`, value: `Order ${order(1)} has not shipped` }),
  ]);
  const decisions = await api.items(`/api/v1/agents/${agentId}/decisions`, 'B');
  expect(decisions).toEqual([expect.objectContaining({ status: 'decided', input: expect.objectContaining({ kind: 'task' }) })]);
  // Once the engine has evaluated all three events, it still counts exactly one firing.
  const view = await api.eventually('the engine counted its evaluations', async () => {
    const body = await api.get(`/api/v1/triggers/${triggerId}`, 'B');
    const stats = (body.evaluation as { stats?: Json } | null)?.stats;
    return stats !== undefined && stats.evaluations === 3 && stats.firings === 1 ? body : undefined;
  });
  expect(view).toMatchObject({ firingCount: 1 });
}
