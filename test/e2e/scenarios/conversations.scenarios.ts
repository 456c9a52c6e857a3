import type { ServerMessage, TokenMessage } from '../../../apps/gateway/src/realtime/realtime-protocol';
import { strictlyIncreasing, type Json, type Outside, type ScenarioApi } from './scenario-api';

/** Scenarios about conversations: people and agents talking, approvals, streamed replies, retries. */

/** README "Try it" 1: a person and a rules communicator in a conversation. */
export async function conversationAcrossReplicas(api: ScenarioApi): Promise<void> {
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

/** README "Agents at work", propose: the action waits for a person, then runs once. */
export async function approval(api: ScenarioApi, { receiver }: Outside): Promise<void> {
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

/** README "Engines" and "WebSocket": replies to a conversation stream token by token, then the stored reply replaces them. */
export async function streamedReply(api: ScenarioApi, { llm }: Outside): Promise<void> {
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

/** README "Idempotency-Key": a retry through another replica (a load balancer's choice) replays the first answer. */
export async function idempotentRetry(api: ScenarioApi): Promise<void> {
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
