import type { EventMessage } from '../../../apps/gateway/src/realtime/realtime-protocol';
import { strictlyIncreasing, subjectOf, type Json, type ScenarioApi } from './scenario-api';

/** Scenarios about domain events: ingestion, live delivery across replicas, resuming, producers. */

/** README "Quickstart", with its exact requests. */
export async function quickstart(api: ScenarioApi): Promise<void> {
  const created = await api.request('/api/v1/agents', {
    method: 'POST',
    json: {
      name: 'order-watcher',
      kind: 'monitor',
      subscriptions: [{ type: 'order.*' }],
      engine: { type: 'rules', rules: [{ when: { '>': [{ var: 'event.data.amount' }, 1000] }, then: [{ action: 'reply', text: 'Large order {{event.subject}}' }] }] },
      tools: ['reply'],
    },
  });
  expect(created.status).toBe(201);
  expect(created.headers.get('etag')).toBe('"0"');
  const agent = (await created.json()) as Json;
  expect(agent).toMatchObject({ id: expect.any(String), name: 'order-watcher', status: 'active', version: 1, revision: 0 });

  const batch = [
    { specversion: '1.0', id: 'o-1', source: 'urn:shop', type: 'order.placed', subject: 'order-1', data: { amount: 1200, status: 'placed' } },
    { specversion: '1.0', id: 'o-2', source: 'urn:shop', type: 'order.shipped', subject: 'order-1', data: { status: 'shipped' } },
  ];
  const ingest = (replica: 'A' | 'B') => api.request('/api/v1/events', { method: 'POST', replica, headers: { 'content-type': 'application/cloudevents-batch+json' }, json: batch });
  const first = await ingest('A');
  expect(first.status).toBe(202);
  const accepted = (await first.json()) as { accepted: number; duplicates: number; position: number };
  expect(accepted).toEqual({ accepted: 2, duplicates: 0, position: expect.any(Number) });
  // The same batch again, through the other replica: both are duplicates, answered at or after the stored copies.
  const again = await ingest('B');
  expect(again.status).toBe(202);
  const duplicates = (await again.json()) as { accepted: number; duplicates: number; position: number };
  expect(duplicates).toEqual({ accepted: 0, duplicates: 2, position: expect.any(Number) });
  expect(duplicates.position).toBeGreaterThanOrEqual(accepted.position);

  for (const replica of ['A', 'B'] as const) {
    const events = await api.items(`/api/v1/events?subject=order-1&minPosition=${accepted.position}`, replica);
    expect(events.map((event) => [event.id, event.type, event.subject])).toEqual([
      ['o-1', 'order.placed', 'order-1'],
      ['o-2', 'order.shipped', 'order-1'],
    ]);
    const entity = await api.get(`/api/v1/entities/order-1?minPosition=${accepted.position}`, replica);
    expect(entity).toMatchObject({ subject: 'order-1', state: { amount: 1200, status: 'shipped' }, eventCount: 2 });
  }

  // The agent reacts to the large order (the shipment has no amount): one decision, its reply kept in the ledger.
  const decisions = await api.eventually('the order-watcher decision with its reply settled', async () => {
    const items = await api.items(`/api/v1/agents/${String(agent.id)}/decisions`, 'B');
    return items.length === 1 && (items[0].actions as Json[]).every((action) => action.status !== 'pending') ? items : undefined;
  });
  expect(decisions[0]).toMatchObject({ status: 'decided', input: { kind: 'event', payload: { type: 'order.placed', subject: 'order-1' } } });
  expect(decisions[0].actions).toEqual([expect.objectContaining({ index: 0, status: 'succeeded', action: expect.objectContaining({ action: 'reply', text: 'Large order order-1' }) })]);
}

/** An ingested event and the agent's reaction, followed live on another replica than the one that took the event. */
export async function reactionAcrossReplicas(api: ScenarioApi): Promise<void> {
  const placed = `parcel-${api.run}.registered`;
  const flagged = `parcel-${api.run}.flagged`;
  const agent = await api.post('/api/v1/agents', {
    name: `heavy-parcels-${api.run}`,
    kind: 'monitor',
    subscriptions: [{ type: placed }],
    engine: { type: 'rules', rules: [{ when: { '>': [{ var: 'event.data.weight' }, 100] }, then: [{ action: 'emit-event', eventType: flagged, subject: '{{event.subject}}', data: { reason: 'heavy' } }] }] },
    tools: ['emit-event'],
  });
  const agentChannel = `agent:${String(agent.id)}`;
  const watcher = await api.follow('B', 'events');
  watcher.send({ type: 'subscribe', channel: agentChannel });
  await api.wsWait(watcher.waitForType('caught-up', agentChannel), `"caught-up" on ${agentChannel}`);

  const light = `parcel-light-${api.run}`;
  const heavy = `parcel-heavy-${api.run}`;
  // The light parcel first: by the time the heavy one is flagged, the agent has had the light one (one input at a time, in order).
  const ingested = await api.post('/api/v1/events', [
    { specversion: '1.0', id: `${api.run}-light`, source: 'urn:depot', type: placed, subject: light, data: { weight: 3 } },
    { specversion: '1.0', id: `${api.run}-heavy`, source: 'urn:depot', type: placed, subject: heavy, data: { weight: 250 } },
  ]);
  expect(ingested).toMatchObject({ accepted: 2, duplicates: 0 });

  const reaction = await api.waitForEvent(watcher, 'events', (event) => event.eventType === flagged && subjectOf(event) === heavy, `the ${flagged} event of ${heavy} on replica B`);
  const heavyEvents = watcher.events('events').filter((event) => subjectOf(event) === heavy);
  expect(heavyEvents.map((event) => event.eventType)).toEqual([placed, flagged]);
  const [original] = heavyEvents;
  expect(original.data).toEqual({ weight: 250 });
  expect(reaction.data).toEqual({ reason: 'heavy' });
  expect(reaction.position).toBeGreaterThan(original.position);
  // The reaction belongs to the ingested event's chain.
  expect(reaction.metadata.correlationId).toBe(original.metadata.correlationId);
  expect(reaction.metadata.causationId).not.toBeNull();
  expect(strictlyIncreasing(watcher.events('events').map((event) => event.position))).toBe(true);
  // The light parcel was delivered too, before the heavy one, and caused nothing.
  const lightEvents = watcher.events('events').filter((event) => subjectOf(event) === light);
  expect(lightEvents.map((event) => event.eventType)).toEqual([placed]);
  expect(lightEvents[0].position).toBeLessThan(original.position);

  // On the agent's channel, the decision is recorded between the input and the event it caused.
  const decision = await api.waitForEvent(watcher, agentChannel, (event) => event.eventType === 'agent.decision-recorded', 'the decision on the agent channel');
  expect(decision.position).toBeGreaterThan(original.position);
  expect(decision.position).toBeLessThan(reaction.position);
  expect(watcher.events(agentChannel).filter((event) => event.eventType === 'agent.decision-recorded')).toHaveLength(1);

  // REST on either replica agrees with what the WebSocket showed.
  for (const replica of ['A', 'B'] as const) {
    const stored = await api.items(`/api/v1/events?subject=${heavy}&minPosition=${reaction.position}`, replica);
    expect(stored.map((event) => event.type)).toEqual([placed, flagged]);
    expect((await api.items(`/api/v1/events?subject=${light}&minPosition=${reaction.position}`, replica)).map((event) => event.type)).toEqual([placed]);
  }
}

/** README "WebSocket": to resume after a disconnect, subscribe again with the last position received. */
export async function reconnectOnOtherReplica(api: ScenarioApi): Promise<void> {
  const type = `scan-${api.run}.recorded`;
  const channel = `events:scan-${api.run}.`;
  const scan = (n: number) => ({ specversion: '1.0', id: `${api.run}-scan-${n}`, source: 'urn:scanner', type, subject: `package-${api.run}-${n}`, data: { n } });
  const numbers = (events: readonly EventMessage[]) => events.map((event) => (event.data as { n: number }).n);

  const before = await api.follow('A', channel);
  await api.post('/api/v1/events', [scan(1), scan(2)], 'A');
  const lastSeen = await api.waitForEvent(before, channel, (event) => (event.data as { n: number }).n === 2, 'the second scan on replica A');
  expect(numbers(before.events(channel))).toEqual([1, 2]);
  await before.close();

  // While nobody listens, through both replicas.
  await api.post('/api/v1/events', [scan(3)], 'A');
  await api.post('/api/v1/events', [scan(4), scan(5)], 'B');

  const after = await api.follow('B', channel, lastSeen.position);
  const caughtUp = after.messages.findIndex((message) => message.type === 'caught-up' && message.channel === channel);
  await api.post('/api/v1/events', [scan(6)], 'A');
  await api.waitForEvent(after, channel, (event) => (event.data as { n: number }).n === 6, 'the live scan on replica B');

  const received = after.events(channel);
  expect(numbers(received)).toEqual([3, 4, 5, 6]);
  expect(received[0].position).toBeGreaterThan(lastSeen.position);
  expect(strictlyIncreasing(received.map((event) => event.position))).toBe(true);
  // The missed ones were replayed before "caught-up"; the new one came live after it.
  const replayed = after.messages.slice(0, caughtUp).filter((message): message is EventMessage => message.type === 'event');
  expect(numbers(replayed)).toEqual([3, 4, 5]);
  expect(after.messages.findIndex((message) => message.type === 'event' && (message.data as { n: number }).n === 6)).toBeGreaterThan(caughtUp);

  // Both WebSockets together saw every scan once, exactly as the store has them.
  const stored = await api.items(`/api/v1/events?type=${type}&minPosition=${received[received.length - 1].position}`, 'B');
  expect(stored.map((event) => (event.data as { n: number }).n)).toEqual([1, 2, 3, 4, 5, 6]);

  // Again while scans keep coming, through both replicas: the reconnect lands between writes, and
  // the replay hands over to the live stream without a gap or a duplicate.
  const resumeFrom = received[received.length - 1].position;
  await after.close();
  const writes = (async () => {
    for (let batch = 0; batch < 20; batch++) {
      await api.post('/api/v1/events', [scan(7 + batch * 2), scan(8 + batch * 2)], batch % 2 === 0 ? 'A' : 'B');
    }
  })();
  const resumed = await api.follow('B', channel, resumeFrom);
  await writes;
  await api.waitForEvent(resumed, channel, (event) => (event.data as { n: number }).n === 46, 'the last scan of the burst on replica B');
  const burst = resumed.events(channel);
  expect(numbers(burst)).toEqual(Array.from({ length: 40 }, (_, i) => 7 + i));
  expect(strictlyIncreasing(burst.map((event) => event.position))).toBe(true);
  expect(burst[0].position).toBeGreaterThan(resumeFrom);
}

/** DESIGN: business systems deliver domain events (in the distributed mode, on `meridian.inbound`), at least once. */
export async function publishedEvents(api: ScenarioApi): Promise<void> {
  const reading = `meter-${api.run}.reading`;
  const alarm = `meter-${api.run}.alarm`;
  const channel = `events:meter-${api.run}.`;
  const meter = `meter-${api.run}`;
  const agent = await api.post('/api/v1/agents', {
    name: `meter-watch-${api.run}`,
    kind: 'monitor',
    subscriptions: [{ type: reading }],
    engine: { type: 'rules', rules: [{ when: { '>': [{ var: 'event.data.value' }, 90] }, then: [{ action: 'emit-event', eventType: alarm, subject: '{{event.subject}}', data: { value: '{{event.data.value}}' } }] }] },
    tools: ['emit-event'],
  });
  const watchers = { A: await api.follow('A', channel), B: await api.follow('B', channel) };
  const event = (n: number, value: number) => ({ specversion: '1.0', id: `${api.run}-reading-${n}`, source: 'urn:meters', type: reading, subject: meter, data: { value } });
  const seen = (replica: 'A' | 'B') => watchers[replica].events(channel).map((message) => [message.eventType, (message.data as { value: unknown }).value]);

  await api.meridian.publish([event(1, 10), event(2, 95)]);
  for (const replica of ['A', 'B'] as const) {
    await api.waitForEvent(watchers[replica], channel, (message) => message.eventType === alarm, `the alarm on replica ${replica}`);
  }
  // Delivered again (a producer retrying), followed by a new reading: only the new one is stored.
  await api.meridian.publish([event(1, 10), event(2, 95), event(3, 20)]);
  const last = await api.waitForEvent(watchers.B, channel, (message) => (message.data as { value: unknown }).value === 20, 'the third reading on replica B');
  await api.waitForEvent(watchers.A, channel, (message) => message.position === last.position, 'the third reading on replica A');

  const expected = [
    [reading, 10],
    [reading, 95],
    [alarm, '95'],
    [reading, 20],
  ];
  for (const replica of ['A', 'B'] as const) {
    expect(seen(replica)).toEqual(expected);
    expect(strictlyIncreasing(watchers[replica].events(channel).map((message) => message.position))).toBe(true);
    const stored = await api.items(`/api/v1/events?subject=${meter}&minPosition=${last.position}`, replica);
    expect(stored.map((item) => [item.type, (item.data as { value: unknown }).value])).toEqual(expected);
  }
  // Both replicas delivered the very same stored events.
  expect(watchers.A.events(channel).map((message) => [message.position, message.eventId])).toEqual(watchers.B.events(channel).map((message) => [message.position, message.eventId]));
  const entity = await api.get(`/api/v1/entities/${meter}?minPosition=${last.position}`, 'A');
  expect(entity).toMatchObject({ subject: meter, eventCount: 4, state: { value: 20 } });
  const decisions = await api.items(`/api/v1/agents/${String(agent.id)}/decisions`, 'B');
  const high = watchers.B.events(channel).find((message) => (message.data as { value: unknown }).value === 95);
  expect(decisions).toEqual([expect.objectContaining({ status: 'decided', input: expect.objectContaining({ kind: 'event', ref: high?.eventId, payload: expect.objectContaining({ type: reading, subject: meter }) }) })]);
}
