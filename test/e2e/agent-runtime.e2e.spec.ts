import { randomUUID } from 'node:crypto';
import { cloudEvent, startStandalone, type RunningApp } from './support/standalone-app';
import { eventually } from './support/eventually';
import { WebhookReceiver } from './support/webhook-receiver';

jest.setTimeout(120_000);

type Json = Record<string, unknown>;

describe('Agent runtime (standalone): routing, rules decisions, actions, conversations, chains', () => {
  let api: RunningApp;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    await receiver.start();
    api = await startStandalone();
  });
  afterAll(async () => {
    await api.close();
    await receiver.close();
  });

  const post = async (path: string, json?: unknown): Promise<Json> => {
    const res = await api.request(path, { method: 'POST', ...(json !== undefined ? { json } : {}) });
    const body = (await res.json()) as Json;
    if (res.status >= 300) throw new Error(`POST ${path} → ${res.status}: ${JSON.stringify(body)}`);
    return body;
  };
  const get = async (path: string): Promise<Json> => {
    const res = await api.request(path);
    return (await res.json()) as Json;
  };
  const decisions = async (agentId: string): Promise<Json[]> => (await get(`/api/v1/agents/${agentId}/decisions?limit=200`)).items as Json[];

  it('a communicator with the rules engine replies in its conversation; the reply is stored after the message', async () => {
    const agent = await post('/api/v1/agents', {
      name: 'greeter',
      kind: 'communicator',
      engine: { type: 'rules', rules: [{ when: { in: ['hello', { var: 'message.content' }] }, then: [{ action: 'reply', text: 'Hi {{message.from}}, you said: {{message.content}}' }] }] },
      tools: ['reply'],
    });
    const conversation = await post('/api/v1/conversations', { agentIds: [agent.id], title: 'support' });
    const { messageId } = await post(`/api/v1/conversations/${conversation.id}/messages`, { content: 'hello there' });
    const messages = await eventually('the reply', async () => {
      const view = await get(`/api/v1/conversations/${conversation.id}`);
      const items = view.messages as Json[];
      return items.length >= 2 ? items : undefined;
    });
    expect(messages[0]).toMatchObject({ messageId, content: 'hello there' });
    expect(messages[1]).toMatchObject({ content: expect.stringContaining('you said: hello there'), inReplyTo: messageId });

    const [decision] = await eventually('the decision in the ledger', async () => ((await decisions(agent.id as string)).length > 0 ? decisions(agent.id as string) : undefined));
    expect(decision).toMatchObject({ status: 'decided', engine: { type: 'rules' }, definitionVersion: 1, input: { kind: 'message', ref: messageId } });
    expect(decision.actions).toEqual([expect.objectContaining({ index: 0, action: expect.objectContaining({ action: 'reply' }), status: 'succeeded' })]);
    expect(decision.output).toMatchObject({ matchedRules: [{ index: 0 }] });

    // A message the rule does not match is no decision at all.
    await post(`/api/v1/conversations/${conversation.id}/messages`, { content: 'goodbye' });
    await post(`/api/v1/conversations/${conversation.id}/messages`, { content: 'hello again' });
    await eventually('the second reply', async () => (((await get(`/api/v1/conversations/${conversation.id}`)).messages as Json[]).length >= 5 ? true : undefined));
    const all = (await get(`/api/v1/conversations/${conversation.id}`)).messages as Json[];
    expect(all.map((m) => m.content)).toEqual(['hello there', expect.stringContaining('hello there'), 'goodbye', 'hello again', expect.stringContaining('hello again')]);
  });

  it('routes ingested events to active subscribers only; acts once per action; a resumed agent gets no replay unless asked', async () => {
    const watcher = await post('/api/v1/agents', {
      name: 'big-orders',
      kind: 'executor',
      subscriptions: [{ type: 'order.*', filter: { '>=': [{ var: 'data.amount' }, 100] } }],
      engine: {
        type: 'rules',
        rules: [
          {
            then: [
              { action: 'call-webhook', url: receiver.url, body: { order: '{{event.subject}}', amount: '{{event.data.amount}}' } },
              { action: 'emit-event', eventType: 'order.flagged', subject: '{{event.subject}}', data: { reason: 'big' } },
              { action: 'remember', key: 'lastBigOrder', value: '{{event.subject}}' },
            ],
          },
        ],
      },
      tools: ['call-webhook', 'emit-event', 'remember'],
    });
    const runId = randomUUID().slice(0, 8);
    await post('/api/v1/events', [
      cloudEvent(`${runId}-1`, { data: { amount: 150 } }),
      cloudEvent(`${runId}-2`, { data: { amount: 20 } }),
      cloudEvent(`${runId}-3`, { type: 'invoice.paid', data: { amount: 500 } }),
    ]);
    const ledger = await eventually('one decision with its three actions done', async () => {
      const items = await decisions(watcher.id as string);
      return items.length === 1 && (items[0].actions as Json[]).every((a) => a.status !== 'pending') ? items : undefined;
    });
    expect(ledger[0]).toMatchObject({ input: { kind: 'event', payload: { type: 'order.placed', subject: `order-${runId}-1` } }, placement: { hop: 1 } });
    expect((ledger[0].actions as Json[]).map((a) => a.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const hooks = receiver.calls.filter((c) => c.body.order === `order-${runId}-1`);
    expect(hooks).toEqual([{ key: `${ledger[0].decisionId}:0`, body: { order: `order-${runId}-1`, amount: '150' } }]);

    const flagged = await eventually('the emitted event', async () => {
      const page = await get(`/api/v1/events?type=order.flagged&subject=order-${runId}-1`);
      return (page.items as Json[]).length > 0 ? (page.items as Json[]) : undefined;
    });
    expect(flagged).toHaveLength(1);
    expect(flagged[0]).toMatchObject({ type: 'order.flagged', data: { reason: 'big' } });
    const agentView = await eventually('the memory', async () => {
      const view = await get(`/api/v1/agents/${watcher.id}`);
      return view.decisionCount === 1 ? view : undefined;
    });
    expect(agentView).toMatchObject({ decisionCount: 1 });
    const history = (await get(`/api/v1/agents/${watcher.id}/history?limit=100`)).items as Json[];
    expect(history.filter((e) => e.type === 'agent.memory-updated').map((e) => (e.data as Json).value)).toEqual([`order-${runId}-1`]);

    // Paused: nothing is routed. Resumed: only what comes after.
    await post(`/api/v1/agents/${watcher.id}/pause`);
    await post('/api/v1/events', [cloudEvent(`${runId}-4`, { data: { amount: 400 } })]);
    await post(`/api/v1/agents/${watcher.id}/resume`);
    await post('/api/v1/events', [cloudEvent(`${runId}-5`, { data: { amount: 500 } })]);
    const after = await eventually('the decision after resuming', async () => {
      const items = await decisions(watcher.id as string);
      return items.length >= 2 ? items : undefined;
    });
    expect(after.map((d) => ((d.input as Json).payload as Json).subject)).toEqual([`order-${runId}-1`, `order-${runId}-5`]);

    // Asked to, a resume also routes what the agent missed while paused, in order, before what comes next.
    await post(`/api/v1/agents/${watcher.id}/pause`);
    await post('/api/v1/events', [cloudEvent(`${runId}-6`, { data: { amount: 600 } }), cloudEvent(`${runId}-7`, { data: { amount: 5 } }), cloudEvent(`${runId}-8`, { data: { amount: 800 } })]);
    const bad = await api.request(`/api/v1/agents/${watcher.id}/resume?replayMissed=yes`, { method: 'POST' });
    expect(bad.status).toBe(400);
    await post(`/api/v1/agents/${watcher.id}/resume?replayMissed=true`);
    await post('/api/v1/events', [cloudEvent(`${runId}-9`, { data: { amount: 900 } })]);
    const replayed = await eventually('the missed events decided', async () => {
      const items = await decisions(watcher.id as string);
      return items.length >= 5 ? items : undefined;
    });
    expect(replayed.map((d) => ((d.input as Json).payload as Json).subject)).toEqual([1, 5, 6, 8, 9].map((n) => `order-${runId}-${n}`));
  });

  it('two agents that keep messaging each other are halted by the chain budget; the chain endpoint says why', async () => {
    const pingPong = (name: string, peer: () => string) => ({
      name,
      kind: 'custom',
      engine: { type: 'rules', rules: [{ then: [{ action: 'send-message', to: peer(), content: '{{message.content}}!' }] }] },
      tools: ['send-message'],
      budgets: { maxHops: 50, maxDecisionsPerChain: 6 },
    });
    const ids = { ping: `ping-${randomUUID().slice(0, 8)}`, pong: `pong-${randomUUID().slice(0, 8)}` };
    await post('/api/v1/agents', { id: ids.ping, ...pingPong('ping', () => ids.pong) });
    await post('/api/v1/agents', { id: ids.pong, ...pingPong('pong', () => ids.ping) });
    await post(`/api/v1/agents/${ids.ping}/messages`, { content: 'serve' });

    const pingDecisions = await eventually('a failed decision with the budget', async () => {
      const all = [...(await decisions(ids.ping)), ...(await decisions(ids.pong))];
      return all.some((d) => d.status === 'failed') ? all : undefined;
    });
    const decided = pingDecisions.filter((d) => d.status === 'decided');
    expect(decided).toHaveLength(6);
    const correlationId = decided[0].correlationId as string;
    expect(new Set(pingDecisions.map((d) => d.correlationId))).toEqual(new Set([correlationId]));
    const failed = pingDecisions.find((d) => d.status === 'failed');
    expect(failed?.error).toMatchObject({ code: 'CHAIN_BUDGET_EXCEEDED' });

    const chain = await eventually('the chain view', async () => {
      const res = await api.request(`/api/v1/chains/${correlationId}`);
      if (res.status !== 200) return undefined;
      const body = (await res.json()) as Json;
      return body.halted !== null ? body : undefined;
    });
    expect(chain.halted).toMatchObject({ reason: 'max-decisions', limit: 6, used: 7 });
    expect(chain.used).toMatchObject({ decisions: 6 });
  });

  it('a proposal waits for a person: approved over REST it runs; nobody deciding lets the timeout policy decide', async () => {
    const careful = await post('/api/v1/agents', {
      name: 'careful',
      kind: 'executor',
      engine: {
        type: 'rules',
        rules: [{ then: [{ action: 'propose', proposed: { action: 'call-webhook', url: receiver.url, body: { refund: '{{message.content}}' } }, reason: 'refunds need a person' }] }],
      },
      tools: ['propose'],
      approvals: { timeout: 'PT1S', onTimeout: 'approve' },
    });
    const conversation = await post('/api/v1/conversations', { agentIds: [careful.id] });
    await post(`/api/v1/conversations/${conversation.id}/messages`, { content: 'refund-A' });
    const pending = await eventually('the pending approval', async () => {
      const view = await get(`/api/v1/conversations/${conversation.id}`);
      return (view.pendingApprovals as Json[]).length === 1 ? (view.pendingApprovals as Json[])[0] : undefined;
    });
    expect(pending).toMatchObject({ agentId: careful.id, reason: 'refunds need a person', action: { proposed: { action: 'call-webhook' } } });
    expect(receiver.calls.some((c) => c.body.refund === 'refund-A')).toBe(false);

    await post(`/api/v1/conversations/${conversation.id}/approvals/${pending.approvalId}`, { decision: 'approve', comment: 'ok' });
    const [approved] = await eventually('the approved action recorded', async () => {
      const items = await decisions(careful.id as string);
      return items.length === 1 && (items[0].actions as Json[])[0].status === 'succeeded' ? items : undefined;
    });
    expect((approved.actions as Json[])[0].result).toMatchObject({ approval: 'approve', approvalId: pending.approvalId, proposed: 'call-webhook', result: { status: 200 } });
    expect(receiver.calls.filter((c) => c.body.refund === 'refund-A')).toEqual([{ key: `${approved.decisionId}:0`, body: { refund: 'refund-A' } }]);

    // Nobody decides on the second one: after the agent's timeout (1 s), its policy (approve) applies.
    await post(`/api/v1/conversations/${conversation.id}/messages`, { content: 'refund-B' });
    const expired = await eventually('the expired approval applied', async () => {
      const items = await decisions(careful.id as string);
      return items.length === 2 && (items[1].actions as Json[])[0].status === 'succeeded' ? items[1] : undefined;
    });
    expect((expired.actions as Json[])[0].result).toMatchObject({ approval: 'approve', proposed: 'call-webhook' });
    expect((await get(`/api/v1/conversations/${conversation.id}`)).pendingApprovals).toEqual([]);
  });

  it('a reject leaves the action unexecuted, and the outcome is recorded', async () => {
    const careful = await post('/api/v1/agents', {
      name: 'careful-2',
      kind: 'executor',
      engine: { type: 'rules', rules: [{ then: [{ action: 'propose', proposed: { action: 'reply', text: 'done: {{message.content}}' } }] }] },
      tools: ['propose'],
    });
    const conversation = await post('/api/v1/conversations', { agentIds: [careful.id] });
    await post(`/api/v1/conversations/${conversation.id}/messages`, { content: 'delete everything' });
    const pending = await eventually('the pending approval', async () => {
      const items = (await get(`/api/v1/conversations/${conversation.id}`)).pendingApprovals as Json[];
      return items.length === 1 ? items[0] : undefined;
    });
    await post(`/api/v1/conversations/${conversation.id}/approvals/${pending.approvalId}`, { decision: 'reject' });
    const [decision] = await eventually('the rejection recorded', async () => {
      const items = await decisions(careful.id as string);
      return items.length === 1 && (items[0].actions as Json[])[0].status === 'succeeded' ? items : undefined;
    });
    expect((decision.actions as Json[])[0].result).toMatchObject({ approval: 'reject', how: 'rejected' });
    const messages = (await get(`/api/v1/conversations/${conversation.id}`)).messages as Json[];
    expect(messages.map((m) => m.content)).toEqual(['delete everything']);
  });

  it('agents ask each other: a request gets its reply in the asker\'s mailbox; broadcasts reach every agent with the tag', async () => {
    const suffix = randomUUID().slice(0, 8);
    const ids = { asker: `asker-${suffix}`, expert: `expert-${suffix}`, a: `listener-a-${suffix}`, b: `listener-b-${suffix}`, other: `other-${suffix}` };
    await post('/api/v1/agents', {
      id: ids.expert,
      name: 'expert',
      kind: 'custom',
      engine: { type: 'rules', rules: [{ when: { '!!': [{ var: 'input.payload.replyDueAt' }] }, then: [{ action: 'reply', text: 'answer to {{message.content}}' }] }] },
      tools: ['reply'],
    });
    await post('/api/v1/agents', {
      id: ids.asker,
      name: 'asker',
      kind: 'custom',
      engine: {
        type: 'rules',
        rules: [
          { when: { '==': [{ var: 'input.kind' }, 'message'] }, then: [{ action: 'send-message', to: ids.expert, content: 'what is 6x7?', replyWithin: 'PT30S' }, { action: 'send-message', to: `tag:team-${suffix}`, content: 'heads up' }] },
          { when: { '!!': [{ var: 'input.payload.inReplyTo' }] }, then: [{ action: 'remember', key: 'answer', value: '{{message.content}}' }] },
        ],
      },
      tools: ['send-message', 'remember'],
      tags: [`team-${suffix}`],
    });
    const listener = (id: string, tags: string[]) =>
      post('/api/v1/agents', { id, name: id, kind: 'monitor', tags, engine: { type: 'rules', rules: [{ then: [{ action: 'remember', key: 'heard', value: '{{message.content}} from {{message.from}}' }] }] }, tools: ['remember'] });
    await listener(ids.a, [`team-${suffix}`]);
    await listener(ids.b, [`team-${suffix}`, 'x']);
    await listener(ids.other, ['elsewhere']);

    await post(`/api/v1/agents/${ids.asker}/messages`, { content: 'go' });
    const memory = async (id: string) => {
      const history = (await get(`/api/v1/agents/${id}/history?limit=200`)).items as Json[];
      return history.filter((e) => e.type === 'agent.memory-updated').map((e) => e.data as Json);
    };
    const answer = await eventually('the answer remembered by the asker', async () => {
      const facts = await memory(ids.asker);
      return facts.length > 0 ? facts : undefined;
    });
    expect(answer).toEqual([expect.objectContaining({ key: 'answer', value: 'answer to what is 6x7?' })]);
    for (const id of [ids.a, ids.b]) {
      const heard = await eventually(`${id} hearing the broadcast`, async () => ((await memory(id)).length > 0 ? memory(id) : undefined));
      expect(heard).toEqual([expect.objectContaining({ key: 'heard', value: `heads up from ${ids.asker}` })]);
    }
    expect(await memory(ids.other)).toEqual([]);
    // The asker did not get its own broadcast, though it has the tag.
    expect((await decisions(ids.asker)).map((d) => (d.input as Json).kind)).toEqual(['message', 'agent-message']);
  });

  it('agents defined without budgets take the deployment defaults, written into their definition', async () => {
    const other = await startStandalone({ MERIDIAN_DEFAULT_MAX_HOPS: '3', MERIDIAN_DEFAULT_MAX_COST_PER_CHAIN: '0.5' });
    try {
      const res = await other.request('/api/v1/agents', {
        method: 'POST',
        json: { name: 'defaults', kind: 'custom', engine: { type: 'rules', rules: [{ then: [{ action: 'remember', key: 'k', value: 'v' }] }] }, tools: ['remember'], budgets: { maxDecisionsPerChain: 2 } },
      });
      expect(res.status).toBe(201);
      expect(((await res.json()) as Json).budgets).toEqual({ maxHops: 3, maxDecisionsPerChain: 2, maxTokensPerChain: 20_000, maxCostPerChain: 0.5 });
    } finally {
      await other.close();
    }
  });
});
