import type { Json, ScenarioApi } from './scenario-api';

/** Scenarios about agents among themselves and their operation: messages, pausing, rebuilding read models. */

/** README "Agents at work", send-message: a request with `replyWithin`, and a broadcast to a tag. */
export async function agentsAskEachOther(api: ScenarioApi): Promise<void> {
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

/** README "Routing": paused agents get nothing; `resume?replayMissed=true` routes what they missed, in order. */
export async function pauseAndResume(api: ScenarioApi): Promise<void> {
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
export async function projectionRebuild(api: ScenarioApi): Promise<void> {
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
