import type { EventMessage, ServerMessage, TokenMessage } from '../../../apps/gateway/src/realtime/realtime-protocol';
import { startOpenAiCompatibleServer, type OpenAiCompatibleServer } from '../../support/openai-compatible-server';
import { WebhookReceiver } from '../support/webhook-receiver';
import type { MeridianUnderTest } from './meridian-under-test';
import { ScenarioApi, strictlyIncreasing, subjectOf, type Json } from './scenario-api';

/** Per scenario: setting up agents, waiting for their reactions, several WebSockets. */
const SCENARIO_TIMEOUT_MS = 240_000;
const SETUP_TIMEOUT_MS = 300_000;

/** Outside services the scenarios' agents call, running in the test process on 127.0.0.1. */
interface Outside {
  readonly receiver: WebhookReceiver;
  readonly llm: OpenAiCompatibleServer;
}

type Scenario = (api: ScenarioApi, outside: Outside) => Promise<void>;

/**
 * What users do with Meridian, as they do it: REST and WebSocket against the gateway, writing
 * through replica A and watching through replica B. Registers one `it` per scenario under
 * `describe(name)`; every scenario makes its own agents, subjects and event types, so they share
 * the deployment without seeing each other's data.
 *
 * `factory` starts the deployment once for the whole suite; `gate` is the `describe` to use (a
 * service gate such as `describeDistributed()` skips the suite when a service is missing).
 */
export function userScenarios(name: string, factory: () => Promise<MeridianUnderTest>, gate: typeof describe = describe): void {
  gate(name, () => {
    let meridian: MeridianUnderTest | undefined;
    const receiver = new WebhookReceiver();
    let llm: OpenAiCompatibleServer | undefined;

    beforeAll(async () => {
      await receiver.start();
      llm = await startOpenAiCompatibleServer();
      meridian = await factory();
    }, SETUP_TIMEOUT_MS);

    afterAll(async () => {
      await meridian?.close();
      await llm?.close();
      await receiver.close();
    }, 120_000);

    const scenario = (title: string, body: Scenario) =>
      it(
        title,
        async () => {
          if (meridian === undefined || llm === undefined) throw new Error('the deployment did not start');
          const api = new ScenarioApi(meridian);
          try {
            await body(api, { receiver, llm });
          } catch (error: unknown) {
            // The processes' logs explain a failure of the distributed mode; keep them with it.
            const logs = meridian.logs();
            if (error instanceof Error && logs !== '') error.message += `\n\nLogs of the ${meridian.mode} deployment:\n${logs}`;
            throw error;
          } finally {
            await api.closeSockets();
          }
        },
        SCENARIO_TIMEOUT_MS,
      );

    scenario('1. the README quickstart: an agent, a batch ingested (then again: duplicates), events and the entity read with minPosition', quickstart);
    scenario('2. an agent reacting to an event ingested through replica A is watched live on a WebSocket of replica B, in order', reactionAcrossReplicas);
    scenario('3. a person chats with a rules agent: messages posted through replica A, replies arrive on replica B, both replicas show the conversation', conversationAcrossReplicas);
    scenario('4. a WebSocket client reconnects to the other replica with fromPosition: exactly the missed events, then live ones', reconnectOnOtherReplica);
    scenario('5. a threshold trigger fires once per burst and its emitted event wakes an agent, visible over REST', thresholdTrigger);
    scenario('6. an agent proposes an action, a person approves it on replica B, the action runs once', approval);
    scenario('7. a business system publishes events (standalone: over HTTP; distributed: on the inbound Kafka topic) and redelivers them: stored once, reacted to once, seen live on both replicas', publishedEvents);
    scenario("8. an LLM agent's reply streams as tokens to the conversation's subscribers on both replicas, then the stored reply", streamedReply);
    scenario('9. the README "orders that do not ship": an absence trigger wakes its agent once for each unshipped order only', absenceTrigger);
    scenario('10. agents ask each other: a request gets its reply back in the asker\'s mailbox, a broadcast reaches every agent with the tag', agentsAskEachOther);
    scenario('11. a client retries a POST on the other replica with the same Idempotency-Key: the first answer is replayed, the message is posted and answered once', idempotentRetry);
    scenario('12. a paused agent gets nothing; resumed with replayMissed on the other replica, it decides what it missed, in order, then what comes next', pauseAndResume);
    scenario('13. an operator rebuilds the agents and conversations projections: the other replica keeps serving, and the rebuilt read models equal the live ones', projectionRebuild);
  });
}

/** README "Quickstart", with its exact requests. */
async function quickstart(api: ScenarioApi): Promise<void> {
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
async function reactionAcrossReplicas(api: ScenarioApi): Promise<void> {
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

/** README "Try it" 1: a person and a rules communicator in a conversation. */
async function conversationAcrossReplicas(api: ScenarioApi): Promise<void> {
  const agent = await api.post('/api/v1/agents', {
    name: `helpdesk-${api.run}`,
    kind: 'communicator',
    tools: ['reply'],
    engine: {
      type: 'rules',
      rules: [
        { when: { in: ['refund', { var: 'message.content' }] }, then: [{ action: 'reply', text: 'Refunds take 3 days, {{message.from}}.' }] },
        { when: { '!': { in: ['refund', { var: 'message.content' }] } }, then: [{ action: 'reply', text: 'You said: {{message.content}}' }] },
      ],
    },
  });
  const conversation = await api.post('/api/v1/conversations', { agentIds: [agent.id], title: 'support' });
  const conversationId = conversation.id as string;
  const channel = `conversation:${conversationId}`;
  const watcher = await api.follow('B', channel);

  // Over REST on replica A.
  const posted = await api.post(`/api/v1/conversations/${conversationId}/messages`, { content: 'where is my refund?' }, 'A');
  expect(posted).toEqual({ messageId: expect.any(String), position: expect.any(Number) });
  const firstReply = await api.waitForEvent(
    watcher,
    channel,
    (event) => event.eventType === 'conversation.reply-recorded' && (event.data as Json).inReplyTo === posted.messageId,
    'the reply to the first message on replica B',
  );
  expect(firstReply.data).toMatchObject({ agentId: agent.id, content: expect.stringMatching(/^Refunds take 3 days, .+\.$/) });

  // Over a WebSocket command on replica A.
  const author = await api.connect('A');
  const ack = await api.wsWait(author.command({ type: 'message', conversationId, content: 'hello there', requestId: 'second' }), 'the ack of the message command');
  expect(ack).toMatchObject({ type: 'ack', of: 'message', conversationId, messageId: expect.any(String), position: expect.any(Number), requestId: 'second' });
  const second = ack as Json;
  const secondReply = await api.waitForEvent(
    watcher,
    channel,
    (event) => event.eventType === 'conversation.reply-recorded' && (event.data as Json).inReplyTo === second.messageId,
    'the reply to the second message on replica B',
  );
  expect(secondReply.data).toMatchObject({ agentId: agent.id, content: 'You said: hello there' });

  // Replica B saw the whole conversation, in order, each event once.
  const seen = watcher.events(channel);
  expect(seen.map((event) => [event.eventType, (event.data as Json).content])).toEqual([
    ['conversation.message-posted', 'where is my refund?'],
    ['conversation.reply-recorded', (firstReply.data as Json).content],
    ['conversation.message-posted', 'hello there'],
    ['conversation.reply-recorded', 'You said: hello there'],
  ]);
  expect(strictlyIncreasing(seen.map((event) => event.position))).toBe(true);

  for (const replica of ['A', 'B'] as const) {
    const view = await api.get(`/api/v1/conversations/${conversationId}?minPosition=${secondReply.position}`, replica);
    const messages = view.messages as Json[];
    expect(messages.map((message) => message.content)).toEqual(['where is my refund?', (firstReply.data as Json).content, 'hello there', 'You said: hello there']);
    expect(messages[0]).toMatchObject({ messageId: posted.messageId });
    expect(messages[1]).toMatchObject({ inReplyTo: posted.messageId });
    expect(messages[3]).toMatchObject({ inReplyTo: second.messageId });
  }
}

/** README "WebSocket": to resume after a disconnect, subscribe again with the last position received. */
async function reconnectOnOtherReplica(api: ScenarioApi): Promise<void> {
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

/** README "Triggers": a burst detector whose emitted event an agent reacts to. */
async function thresholdTrigger(api: ScenarioApi): Promise<void> {
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

/** README "Agents at work", propose: the action waits for a person, then runs once. */
async function approval(api: ScenarioApi, { receiver }: Outside): Promise<void> {
  const agent = await api.post('/api/v1/agents', {
    name: `refunds-${api.run}`,
    kind: 'executor',
    engine: {
      type: 'rules',
      rules: [{ then: [{ action: 'propose', proposed: { action: 'call-webhook', url: receiver.url, body: { refund: '{{message.content}}' } }, reason: 'refunds need a person' }] }],
    },
    tools: ['propose'],
  });
  const conversation = await api.post('/api/v1/conversations', { agentIds: [agent.id] }, 'A');
  const conversationId = conversation.id as string;
  const refund = `refund-${api.run}`;
  const calls = () => receiver.calls.filter((call) => call.body.refund === refund);
  await api.post(`/api/v1/conversations/${conversationId}/messages`, { content: refund }, 'A');

  const pending = await api.eventually('the pending approval on replica B', async () => {
    const view = await api.get(`/api/v1/conversations/${conversationId}`, 'B');
    const approvals = view.pendingApprovals as Json[];
    return approvals.length === 1 ? approvals[0] : undefined;
  });
  expect(pending).toMatchObject({ agentId: agent.id, reason: 'refunds need a person', action: { proposed: { action: 'call-webhook', url: receiver.url } } });
  // Proposed, not run.
  expect(calls()).toEqual([]);

  const approved = await api.post(`/api/v1/conversations/${conversationId}/approvals/${String(pending.approvalId)}`, { decision: 'approve', comment: 'ok, refund it' }, 'B');
  expect(approved).toMatchObject({ id: conversationId, pendingApprovals: [], settledApprovals: { [String(pending.approvalId)]: 'approved' } });

  const [decision] = await api.eventually('the approved action recorded', async () => {
    const items = await api.items(`/api/v1/agents/${String(agent.id)}/decisions`, 'A');
    return items.length === 1 && (items[0].actions as Json[])[0].status !== 'pending' ? items : undefined;
  });
  const [action] = decision.actions as Json[];
  expect(action).toMatchObject({ index: 0, status: 'succeeded', result: expect.objectContaining({ approval: 'approve', approvalId: pending.approvalId, proposed: 'call-webhook', result: expect.objectContaining({ status: 200 }) }) });
  expect(calls()).toEqual([{ key: `${String(decision.decisionId)}:0`, body: { refund } }]);

  // Deciding again changes nothing: the approval is settled, and the action ran once.
  const again = await api.request(`/api/v1/conversations/${conversationId}/approvals/${String(pending.approvalId)}`, { method: 'POST', replica: 'A', json: { decision: 'approve' } });
  expect(again.status).toBe(409);
  expect(await again.json()).toMatchObject({ code: 'APPROVAL_ALREADY_RESOLVED' });
  expect((await api.get(`/api/v1/conversations/${conversationId}`, 'A')).pendingApprovals).toEqual([]);
  expect(calls()).toHaveLength(1);
}

/** DESIGN: business systems deliver domain events (in the distributed mode, on `meridian.inbound`), at least once. */
async function publishedEvents(api: ScenarioApi): Promise<void> {
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

/** README "Engines" and "WebSocket": replies to a conversation stream token by token, then the stored reply replaces them. */
async function streamedReply(api: ScenarioApi, { llm }: Outside): Promise<void> {
  const chunks = ['Your parcel ', 'left the depot ', 'this morning', '.'];
  const agent = await api.post('/api/v1/agents', {
    name: `concierge-${api.run}`,
    kind: 'communicator',
    instructions: 'Answer briefly.',
    engine: { type: 'llm', provider: 'openai-compatible', model: 'test-model', baseUrl: llm.baseUrl },
    tools: ['reply'],
  });
  const conversation = await api.post('/api/v1/conversations', { agentIds: [agent.id] }, 'B');
  const conversationId = conversation.id as string;
  const channel = `conversation:${conversationId}`;
  const watchers = { A: await api.follow('A', channel), B: await api.follow('B', channel) };
  const modelCallsBefore = llm.completionRequests.length;
  llm.enqueue({ kind: 'text', text: chunks.join(''), chunks });

  const posted = await api.post(`/api/v1/conversations/${conversationId}/messages`, { content: 'Where is my parcel?' }, 'A');
  const isToken = (message: ServerMessage): message is TokenMessage => message.type === 'token';
  for (const replica of ['A', 'B'] as const) {
    const watcher = watchers[replica];
    const reply = await api.waitForEvent(watcher, channel, (event) => event.eventType === 'conversation.reply-recorded', `the stored reply on replica ${replica}`);
    const data = reply.data as Json;
    expect(data).toMatchObject({ agentId: agent.id, inReplyTo: posted.messageId, content: chunks.join('') });
    const tokens = watcher.messages.filter(isToken);
    expect(tokens.map((token) => token.delta)).toEqual(chunks);
    for (const token of tokens) expect(token).toEqual({ type: 'token', conversationId, messageId: data.messageId, agentId: agent.id, delta: expect.any(String) });
    // Every token before the stored reply: a client swaps the typed-out text for the message.
    expect(watcher.messages.lastIndexOf(tokens[tokens.length - 1])).toBeLessThan(watcher.messages.indexOf(reply));
    const stored = (await api.get(`/api/v1/conversations/${conversationId}?minPosition=${reply.position}`, replica)).messages as Json[];
    expect(stored.map((message) => [message.messageId, message.content])).toEqual([
      [posted.messageId, 'Where is my parcel?'],
      [data.messageId, chunks.join('')],
    ]);
  }
  // One model call for one decision, recorded with the model's answer.
  expect(llm.completionRequests.length - modelCallsBefore).toBe(1);
  const decisions = await api.items(`/api/v1/agents/${String(agent.id)}/decisions`, 'B');
  expect(decisions).toEqual([expect.objectContaining({ status: 'decided', engine: expect.objectContaining({ type: 'llm', model: 'test-model' }), input: expect.objectContaining({ kind: 'message', ref: posted.messageId }) })]);
}

/** README "Try it: orders that do not ship", with this scenario's own types and subjects. */
async function absenceTrigger(api: ScenarioApi): Promise<void> {
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

/** README "Agents at work", send-message: a request with `replyWithin`, and a broadcast to a tag. */
async function agentsAskEachOther(api: ScenarioApi): Promise<void> {
  const ids = { asker: `asker-${api.run}`, expert: `expert-${api.run}`, a: `listener-a-${api.run}`, b: `listener-b-${api.run}`, other: `other-${api.run}` };
  const team = `team-${api.run}`;
  await api.post('/api/v1/agents', {
    id: ids.expert,
    name: 'expert',
    kind: 'custom',
    engine: { type: 'rules', rules: [{ when: { '!!': [{ var: 'input.payload.replyDueAt' }] }, then: [{ action: 'reply', text: 'answer to {{message.content}}' }] }] },
    tools: ['reply'],
  });
  await api.post('/api/v1/agents', {
    id: ids.asker,
    name: 'asker',
    kind: 'custom',
    tags: [team],
    engine: {
      type: 'rules',
      rules: [
        { when: { '==': [{ var: 'input.kind' }, 'message'] }, then: [{ action: 'send-message', to: ids.expert, content: 'what is 6x7?', replyWithin: 'PT5M' }, { action: 'send-message', to: `tag:${team}`, content: 'heads up' }] },
        { when: { '!!': [{ var: 'input.payload.inReplyTo' }] }, then: [{ action: 'remember', key: 'answer', value: '{{message.content}}' }] },
      ],
    },
    tools: ['send-message', 'remember'],
  });
  const listener = (id: string, tags: string[]) =>
    api.post('/api/v1/agents', { id, name: id, kind: 'monitor', tags, engine: { type: 'rules', rules: [{ then: [{ action: 'remember', key: 'heard', value: '{{message.content}} from {{message.from}}' }] }] }, tools: ['remember'] }, 'B');
  await listener(ids.a, [team]);
  await listener(ids.b, [team, 'x']);
  await listener(ids.other, [`elsewhere-${api.run}`]);

  await api.post(`/api/v1/agents/${ids.asker}/messages`, { content: 'go' }, 'B');
  const memory = async (id: string) =>
    (await api.items(`/api/v1/agents/${id}/history?limit=200`, 'A')).filter((item) => item.type === 'agent.memory-updated').map((item) => item.data as Json);
  const answer = await api.eventually('the answer remembered by the asker', async () => {
    const facts = await memory(ids.asker);
    return facts.length > 0 ? facts : undefined;
  });
  expect(answer).toEqual([expect.objectContaining({ key: 'answer', value: 'answer to what is 6x7?' })]);
  for (const id of [ids.a, ids.b]) {
    const heard = await api.eventually(`${id} hearing the broadcast`, async () => {
      const facts = await memory(id);
      return facts.length > 0 ? facts : undefined;
    });
    expect(heard).toEqual([expect.objectContaining({ key: 'heard', value: `heads up from ${ids.asker}` })]);
  }
  expect(await memory(ids.other)).toEqual([]);
  // The asker decided on the person's message and on the reply; it did not get its own broadcast, though it has the tag.
  const decisions = await api.eventually('the asker\'s two decisions', async () => {
    const items = await api.items(`/api/v1/agents/${ids.asker}/decisions`, 'B');
    return items.length >= 2 ? items : undefined;
  });
  expect(decisions.map((decision) => (decision.input as Json).kind)).toEqual(['message', 'agent-message']);
  // All of it is one chain, started by the person's message.
  expect(new Set(decisions.map((decision) => decision.correlationId)).size).toBe(1);
}

/** README "Idempotency-Key": a retry through another replica (a load balancer's choice) replays the first answer. */
async function idempotentRetry(api: ScenarioApi): Promise<void> {
  const definition = {
    name: `echo-${api.run}`,
    kind: 'communicator',
    engine: { type: 'rules', rules: [{ then: [{ action: 'reply', text: 'Echo: {{message.content}}' }] }] },
    tools: ['reply'],
  };
  const send = (path: string, json: unknown, key: string, replica: 'A' | 'B') => api.request(path, { method: 'POST', replica, json, headers: { 'idempotency-key': key } });

  const created = await send('/api/v1/agents', definition, `agent-${api.run}`, 'A');
  expect(created.status).toBe(201);
  const agent = (await created.json()) as Json;
  const replayed = await send('/api/v1/agents', definition, `agent-${api.run}`, 'B');
  expect(replayed.status).toBe(201);
  expect(replayed.headers.get('idempotent-replayed')).toBe('true');
  expect(replayed.headers.get('location')).toBe(created.headers.get('location'));
  expect(replayed.headers.get('etag')).toBe(created.headers.get('etag'));
  expect(await replayed.json()).toEqual(agent);
  const reused = await send('/api/v1/agents', { ...definition, name: `other-${api.run}` }, `agent-${api.run}`, 'B');
  expect(reused.status).toBe(422);
  expect(await reused.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  const agents = await api.items('/api/v1/agents?limit=500', 'B');
  expect(agents.filter((item) => item.name === definition.name || item.name === `other-${api.run}`).map((item) => item.id)).toEqual([agent.id]);

  const conversation = await api.post('/api/v1/conversations', { agentIds: [agent.id] }, 'A');
  const path = `/api/v1/conversations/${String(conversation.id)}/messages`;
  const first = await send(path, { content: 'ping' }, `message-${api.run}`, 'A');
  expect(first.status).toBe(202);
  const posted = (await first.json()) as Json;
  const retried = await send(path, { content: 'ping' }, `message-${api.run}`, 'B');
  expect(retried.status).toBe(202);
  expect(retried.headers.get('idempotent-replayed')).toBe('true');
  expect(await retried.json()).toEqual(posted);

  const messages = await api.eventually('the reply', async () => {
    const items = (await api.get(`/api/v1/conversations/${String(conversation.id)}`, 'B')).messages as Json[];
    return items.length >= 2 ? items : undefined;
  });
  expect(messages.map((message) => [message.content, message.inReplyTo ?? null])).toEqual([
    ['ping', null],
    ['Echo: ping', posted.messageId],
  ]);
  const decisions = await api.items(`/api/v1/agents/${String(agent.id)}/decisions`, 'A');
  expect(decisions).toHaveLength(1);
}

/** README "Routing": paused agents get nothing; `resume?replayMissed=true` routes what they missed, in order. */
async function pauseAndResume(api: ScenarioApi): Promise<void> {
  const type = `ticket-${api.run}.opened`;
  const agent = await api.post('/api/v1/agents', {
    name: `triage-${api.run}`,
    kind: 'monitor',
    subscriptions: [{ type, filter: { '>=': [{ var: 'data.priority' }, 2] } }],
    engine: { type: 'rules', rules: [{ then: [{ action: 'remember', key: 'last', value: '{{event.subject}}' }] }] },
    tools: ['remember'],
  });
  const agentId = String(agent.id);
  const ticket = (n: number, priority: number) => ({ specversion: '1.0', id: `${api.run}-t-${n}`, source: 'urn:desk', type, subject: `ticket-${api.run}-${n}`, data: { priority } });
  const decidedSubjects = async (replica: 'A' | 'B') =>
    (await api.items(`/api/v1/agents/${agentId}/decisions?limit=100`, replica)).map((decision) => ((decision.input as Json).payload as Json).subject);

  await api.post('/api/v1/events', [ticket(1, 3)], 'A');
  await api.eventually('the first decision', async () => ((await decidedSubjects('B')).length === 1 ? true : undefined));

  expect(await api.post(`/api/v1/agents/${agentId}/pause`, undefined, 'A')).toMatchObject({ status: 'paused' });
  await api.post('/api/v1/events', [ticket(2, 5), ticket(3, 1), ticket(4, 2)], 'B');
  expect(await api.post(`/api/v1/agents/${agentId}/resume?replayMissed=true`, undefined, 'B')).toMatchObject({ status: 'active' });
  await api.post('/api/v1/events', [ticket(5, 4)], 'A');

  const subjects = await api.eventually('the missed tickets and the next one decided', async () => {
    const items = await decidedSubjects('A');
    return items.length >= 4 ? items : undefined;
  });
  expect(subjects).toEqual([1, 2, 4, 5].map((n) => `ticket-${api.run}-${n}`));
  const memory = (await api.items(`/api/v1/agents/${agentId}/history?limit=200`, 'B')).filter((item) => item.type === 'agent.memory-updated').map((item) => (item.data as Json).value);
  expect(memory).toEqual([1, 2, 4, 5].map((n) => `ticket-${api.run}-${n}`));
}

interface ProjectionStatus {
  readonly name: string;
  readonly activeVersion: number;
  readonly checkpoint: number;
  readonly state: string;
  readonly rebuild?: unknown;
}

/** README "Operations": rebuilds run in the background while the live version keeps serving. */
async function projectionRebuild(api: ScenarioApi): Promise<void> {
  // Something to rebuild: a conversation with a rules agent, answered.
  const agent = await api.post('/api/v1/agents', {
    name: `rebuilt-${api.run}`,
    kind: 'communicator',
    engine: { type: 'rules', rules: [{ then: [{ action: 'reply', text: 'Noted: {{message.content}}' }, { action: 'remember', key: 'last', value: '{{message.content}}' }] }] },
    tools: ['reply', 'remember'],
  });
  const conversation = await api.post('/api/v1/conversations', { agentIds: [agent.id], title: 'rebuild me' });
  await api.post(`/api/v1/conversations/${String(conversation.id)}/messages`, { content: 'first' });
  await api.post(`/api/v1/conversations/${String(conversation.id)}/messages`, { content: 'second' });
  const reads = async (replica: 'A' | 'B', minPosition = 0) => ({
    agent: await api.get(`/api/v1/agents/${String(agent.id)}?minPosition=${minPosition}`, replica),
    decisions: await api.items(`/api/v1/agents/${String(agent.id)}/decisions?minPosition=${minPosition}`, replica),
    conversation: await api.get(`/api/v1/conversations/${String(conversation.id)}?minPosition=${minPosition}`, replica),
  });
  await api.eventually('both replies and both decisions settled', async () => {
    const current = await reads('B');
    const settled = current.decisions.length === 2 && current.decisions.every((decision) => (decision.actions as Json[]).every((action) => action.status === 'succeeded'));
    return settled && (current.conversation.messages as Json[]).length === 4 ? current : undefined;
  });
  // The live read models, all caught up with a write made after everything settled.
  const mark = async (n: number) =>
    (await api.post('/api/v1/events', [{ specversion: '1.0', id: `${api.run}-mark-${n}`, source: 'urn:ops', type: `ops-${api.run}.mark`, subject: `ops-${api.run}` }], 'A')).position as number;
  const live = await reads('B', await mark(1));
  expect(live.agent).toMatchObject({ decisionCount: 2 });

  const status = async (replica: 'A' | 'B') => (await api.items('/api/v1/admin/projections', replica)) as unknown as ProjectionStatus[];
  const names = ['agents', 'conversations'];
  const before = await status('A');
  for (const name of names) {
    const res = await api.request(`/api/v1/admin/projections/${name}/rebuild`, { method: 'POST', replica: 'A' });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ targetVersion: (before.find((p) => p.name === name)?.activeVersion ?? 0) + 1 });
  }
  // Meanwhile the other replica answers from the live version.
  expect(await reads('B')).toEqual(live);

  const head = await mark(2);
  const after = await api.eventually('the rebuilt versions active and caught up', async () => {
    const current = await status('B');
    const done = names.every((name) => {
      const projection = current.find((p) => p.name === name);
      const previous = before.find((p) => p.name === name);
      return projection !== undefined && previous !== undefined && projection.activeVersion === previous.activeVersion + 1 && projection.rebuild === undefined && projection.checkpoint >= head;
    });
    return done ? current : undefined;
  });
  for (const name of names) expect(after.find((p) => p.name === name)).toMatchObject({ state: 'live' });
  expect(await reads('A', head)).toEqual(live);
  expect(await reads('B', head)).toEqual(live);
}
