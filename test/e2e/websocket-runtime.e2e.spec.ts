import { randomUUID } from 'node:crypto';
import { DEFAULT_TENANT_ID, EVENT_STORE, SYSTEM_ACTOR, streamName, type EventStore } from '@meridian/domain';
import { API_KEY_SERVICE, hashApiKey, type ApiKeyService } from '@meridian/infrastructure/auth/api-key.service';
import type { Role } from '@meridian/infrastructure/auth/principal';
import type { AckMessage, ErrorMessage, EventMessage, ServerMessage, TokenMessage } from '../../apps/gateway/src/realtime/realtime-protocol';
import { startOpenAiCompatibleServer, type OpenAiCompatibleServer } from '../support/openai-compatible-server';
import { eventually } from './support/eventually';
import { startStandalone, type RunningApp } from './support/standalone-app';
import { WsTestClient } from './support/ws-test-client';

jest.setTimeout(120_000);

type Json = Record<string, unknown>;

const isEvent = (m: ServerMessage): m is EventMessage => m.type === 'event';
const isToken = (m: ServerMessage): m is TokenMessage => m.type === 'token';

/**
 * The WebSocket side of conversations with running agents (standalone app, real sockets): people
 * post messages and decide approvals over the socket exactly as over HTTP, and follow the agents'
 * replies, streamed token by token while an LLM writes them.
 */
describe('WebSocket /ws with the agent runtime (standalone)', () => {
  let llm: OpenAiCompatibleServer;
  let api: RunningApp;
  let store: EventStore;
  const clients: WsTestClient[] = [];

  beforeAll(async () => {
    llm = await startOpenAiCompatibleServer();
    api = await startStandalone({ MERIDIAN_LLM_RETRY_BASE_DELAY_MS: '10' });
    store = api.app.get<EventStore>(EVENT_STORE, { strict: false });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await api.close();
    await llm.close();
  });

  const post = async (path: string, json?: unknown, headers: Record<string, string> = {}): Promise<Json> => {
    const res = await api.request(path, { method: 'POST', headers, ...(json !== undefined ? { json } : {}) });
    const body = (await res.json()) as Json;
    if (res.status >= 300) throw new Error(`POST ${path} → ${res.status}: ${JSON.stringify(body)}`);
    return body;
  };
  const get = async (path: string): Promise<Json> => (await (await api.request(path)).json()) as Json;
  const decisions = async (agentId: string): Promise<Json[]> => (await get(`/api/v1/agents/${agentId}/decisions?limit=100`)).items as Json[];

  async function connect(key = api.apiKey): Promise<WsTestClient> {
    const client = await WsTestClient.connect(`${api.baseUrl.replace(/^http/, 'ws')}/ws`, { 'X-API-Key': key });
    clients.push(client);
    return client;
  }

  /** A client following the conversation live (caught up, so nothing it receives next is replay). */
  async function follow(conversationId: string, key?: string): Promise<WsTestClient> {
    const client = await connect(key);
    client.send({ type: 'subscribe', channel: `conversation:${conversationId}` });
    await client.waitForType('caught-up', `conversation:${conversationId}`);
    return client;
  }

  async function agentInConversation(definition: Json): Promise<{ agentId: string; conversationId: string }> {
    const agent = await post('/api/v1/agents', { kind: 'communicator', ...definition });
    const conversation = await post('/api/v1/conversations', { agentIds: [agent.id], title: definition.name });
    return { agentId: agent.id as string, conversationId: conversation.id as string };
  }

  /** Issues a key the way the key service records one, then waits until the service has followed it. */
  async function issueKey(tenantId: string, role: Role): Promise<string> {
    const key = `mk_test_${randomUUID()}`;
    const keyId = `ws-${role}-${randomUUID().slice(0, 8)}`;
    await store.append(
      streamName('apikey', keyId, tenantId),
      [
        {
          eventId: randomUUID(),
          type: 'api-key.issued',
          data: { keyId, name: `ws e2e ${role}`, role, tenantId, sha256: hashApiKey(key), hint: key.slice(0, 6) },
          metadata: { occurredAt: new Date().toISOString(), correlationId: keyId, causationId: null, hop: 0, tenantId, actor: SYSTEM_ACTOR },
        },
      ],
      { expected: 'no_stream' },
    );
    const keys = api.app.get<ApiKeyService>(API_KEY_SERVICE, { strict: false });
    await eventually('the key service to know the new key', async () => (keys.authenticate(key) !== null ? true : undefined));
    return key;
  }

  const rulesReplier = { type: 'rules', rules: [{ then: [{ action: 'reply', text: 'You said {{message.content}}' }] }] };

  it('refuses bad commands with an error and writes nothing', async () => {
    const { conversationId } = await agentInConversation({ name: 'untouched', engine: rulesReplier, tools: ['reply'] });
    const otherTenantKey = await issueKey(`tenant-${randomUUID().slice(0, 8)}`, 'admin');
    const client = await follow(conversationId);
    const stranger = await connect(otherTenantKey);
    const stream = streamName('conversation', conversationId, DEFAULT_TENANT_ID);
    const streamBefore = await store.readStream(stream);
    const headBefore = await store.headPosition();

    const answers = await Promise.all([
      client.command({ type: 'message', conversationId, requestId: 'no-content' }),
      client.command({ type: 'message', content: 'hi', requestId: 'no-conversation-id' }),
      client.command({ type: 'message', conversationId, content: '   ', requestId: 'blank' }),
      client.command({ type: 'message', conversationId, content: 'hi', extra: true, requestId: 'extra-field' }),
      client.command({ type: 'message', conversationId: 'no such id', content: 'hi', requestId: 'bad-id' }),
      client.command({ type: 'message', conversationId: 'no-such-conversation', content: 'hi', requestId: 'unknown' }),
      client.command({ type: 'approval', conversationId, approvalId: 'a-1', decision: 'maybe', requestId: 'bad-decision' }),
      client.command({ type: 'approval', conversationId, decision: 'approve', requestId: 'no-approval-id' }),
      client.command({ type: 'approval', conversationId, approvalId: 'no-such-approval', decision: 'approve', requestId: 'unknown-approval' }),
      client.command({ type: 'approval', conversationId: 'no-such-conversation', approvalId: 'a-1', decision: 'reject', requestId: 'unknown-conv-approval' }),
      // Another tenant's key does not reach this tenant's conversation.
      stranger.command({ type: 'message', conversationId, content: 'hi from elsewhere', requestId: 'other-tenant' }),
    ]);
    const [noContent, noConversationId, blank, extra, badId, unknown, badDecision, noApprovalId, unknownApproval, unknownConvApproval, otherTenant] = answers;

    expect(noContent).toMatchObject({ type: 'error', of: 'message', code: 'VALIDATION_FAILED', requestId: 'no-content', errors: [{ path: '/content', message: 'is required' }] });
    expect(noConversationId).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', errors: [{ path: '/conversationId', message: 'is required' }] });
    expect(blank).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ path: '/content' })] });
    expect(extra).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', errors: [{ path: '/extra', message: 'unknown field' }] });
    expect(badId).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ path: '/conversationId' })] });
    expect(unknown).toEqual({ type: 'error', of: 'message', code: 'CONVERSATION_NOT_FOUND', detail: expect.any(String), conversationId: 'no-such-conversation', requestId: 'unknown' });
    expect(badDecision).toMatchObject({ type: 'error', of: 'approval', code: 'VALIDATION_FAILED' });
    expect(((badDecision as ErrorMessage).errors ?? []).map((e) => e.path)).toEqual(expect.arrayContaining(['/decision']));
    expect(noApprovalId).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', errors: [{ path: '/approvalId', message: 'is required' }] });
    expect(unknownApproval).toMatchObject({ type: 'error', of: 'approval', code: 'APPROVAL_NOT_FOUND', conversationId, requestId: 'unknown-approval' });
    expect(unknownConvApproval).toMatchObject({ type: 'error', of: 'approval', code: 'CONVERSATION_NOT_FOUND' });
    expect(otherTenant).toMatchObject({ type: 'error', of: 'message', code: 'CONVERSATION_NOT_FOUND', requestId: 'other-tenant' });

    // HTTP answers the same failures with the same codes.
    const http = await api.request('/api/v1/conversations/no-such-conversation/messages', { method: 'POST', json: { content: 'hi' } });
    expect(http.status).toBe(404);
    expect(await http.json()).toMatchObject({ code: 'CONVERSATION_NOT_FOUND' });

    // Nothing was written anywhere; the connections are still open and serve on.
    expect(await store.readStream(stream)).toEqual(streamBefore);
    expect(await store.readStream(streamName('conversation', 'no-such-conversation', DEFAULT_TENANT_ID))).toEqual([]);
    // Whatever else the app writes meanwhile, nothing comes from these clients or reaches a conversation.
    const written = await store.readAll({ after: headBefore });
    expect(written.filter((e) => e.metadata.actor.kind === 'api-key' || e.streamName.includes('/conversation-'))).toEqual([]);
    expect(client.events(`conversation:${conversationId}`)).toEqual([]);
    expect(((await get(`/api/v1/conversations/${conversationId}`)).messages as Json[])).toEqual([]);
    client.send({ type: 'unsubscribe', channel: `conversation:${conversationId}`, id: 'still-open' });
    await expect(client.waitForType('unsubscribed')).resolves.toMatchObject({ id: 'still-open' });
  });

  it('posts a message like HTTP does, acks it, then delivers the message and the agent reply in order', async () => {
    const { agentId, conversationId } = await agentInConversation({ name: 'echo', engine: rulesReplier, tools: ['reply'] });
    const client = await follow(conversationId);
    const channel = `conversation:${conversationId}`;

    const ack = (await client.command({ type: 'message', conversationId, content: 'hello over ws', requestId: 'm-1' })) as AckMessage;
    expect(ack).toEqual({
      type: 'ack',
      of: 'message',
      conversationId,
      messageId: expect.any(String),
      position: expect.any(Number),
      correlationId: expect.any(String),
      requestId: 'm-1',
    });
    if (ack.of !== 'message') throw new Error('not a message ack');
    // Acknowledged means readable: the read model has the message already.
    const view = await get(`/api/v1/conversations/${conversationId}?minPosition=${ack.position}`);
    expect((view.messages as Json[])[0]).toMatchObject({ messageId: ack.messageId, content: 'hello over ws' });

    const reply = await client.waitFor<EventMessage>((m) => isEvent(m) && m.channel === channel && m.eventType === 'conversation.reply-recorded', 'the reply');
    const events = client.events(channel);
    expect(events.map((e) => e.eventType)).toEqual(['conversation.message-posted', 'conversation.reply-recorded']);
    const [posted] = events;
    expect(posted).toMatchObject({
      position: ack.position,
      data: { conversationId, messageId: ack.messageId, content: 'hello over ws', author: { kind: 'user', id: posted.metadata.actor.id } },
      metadata: { correlationId: ack.correlationId, tenantId: DEFAULT_TENANT_ID, actor: { kind: 'api-key' }, hop: 0 },
    });
    expect(reply.data).toMatchObject({ conversationId, agentId, content: 'You said hello over ws', inReplyTo: ack.messageId });
    expect(reply.position).toBeGreaterThan(posted.position);
    // The agent's reply belongs to the chain the message started.
    expect(reply.metadata.correlationId).toBe(ack.correlationId);

    // The same message over HTTP is the same event, by the same author.
    const overHttp = await post(`/api/v1/conversations/${conversationId}/messages`, { content: 'hello over http' });
    const httpPosted = await client.waitForPosition(channel, overHttp.position as number);
    expect(httpPosted).toMatchObject({ eventType: 'conversation.message-posted', data: { author: (posted.data as Json).author } });
  });

  it('streams an LLM reply as tokens carrying the stored reply id, before the reply event, to its tenant subscribers only', async () => {
    const { agentId, conversationId } = await agentInConversation({
      name: 'llm-talker',
      instructions: 'Answer briefly.',
      engine: { type: 'llm', provider: 'openai-compatible', model: 'test-model', baseUrl: llm.baseUrl },
      tools: ['reply'],
    });
    const chunks = ['Stream', 'ing works', ' fine', ' today.'];
    llm.enqueue({ kind: 'text', text: chunks.join(''), chunks });
    const channel = `conversation:${conversationId}`;
    const client = await follow(conversationId);
    const bystander = await connect(); // same tenant, not subscribed to the conversation
    const stranger = await follow(conversationId, await issueKey(`tenant-${randomUUID().slice(0, 8)}`, 'admin'));

    const ack = await client.command({ type: 'message', conversationId, content: 'How is streaming?', requestId: 'llm-1' });
    expect(ack).toMatchObject({ type: 'ack', of: 'message' });

    const reply = await client.waitFor<EventMessage>((m) => isEvent(m) && m.channel === channel && m.eventType === 'conversation.reply-recorded', 'the reply');
    const replyData = reply.data as Json;
    const tokens = client.messages.filter(isToken);
    expect(tokens.length).toBe(chunks.length);
    expect(tokens.map((t) => t.delta).join('')).toBe(replyData.content);
    expect(replyData.content).toBe('Streaming works fine today.');
    for (const token of tokens) expect(token).toEqual({ type: 'token', conversationId, messageId: replyData.messageId, agentId, delta: expect.any(String) });
    // Every token came before the stored reply, so a client swaps its typed-out text for the message.
    const lastToken = client.messages.lastIndexOf(tokens[tokens.length - 1]);
    expect(lastToken).toBeLessThan(client.messages.indexOf(reply));
    const stored = (await get(`/api/v1/conversations/${conversationId}?minPosition=${reply.position}`)).messages as Json[];
    expect(stored[1]).toMatchObject({ messageId: replyData.messageId, content: replyData.content });

    // A request answered after the tokens were sent: anything sent to these sockets before it has arrived.
    bystander.send({ type: 'subscribe', channel: 'events', id: 'sync' });
    await bystander.waitForType('subscribed', 'events');
    stranger.send({ type: 'subscribe', channel: 'events', id: 'sync' });
    await stranger.waitForType('subscribed', 'events');
    expect(bystander.messages.filter(isToken)).toEqual([]);
    expect(stranger.messages.filter(isToken)).toEqual([]);
    expect(stranger.events(channel)).toEqual([]);
  });

  describe('approvals', () => {
    const proposer = {
      type: 'rules',
      rules: [{ then: [{ action: 'propose', proposed: { action: 'reply', text: 'approved reply' }, reason: 'check' }] }],
    };

    async function pendingApproval(client: WsTestClient, conversationId: string): Promise<{ agentId: string; approval: Json }> {
      const ack = await client.command({ type: 'message', conversationId, content: 'please do it', requestId: 'ask' });
      expect(ack).toMatchObject({ type: 'ack', of: 'message' });
      const view = await eventually('the pending approval', async () => {
        const current = await get(`/api/v1/conversations/${conversationId}`);
        return (current.pendingApprovals as Json[]).length > 0 ? current : undefined;
      });
      expect(view.pendingApprovals).toHaveLength(1);
      const approval = (view.pendingApprovals as Json[])[0];
      return { agentId: approval.agentId as string, approval };
    }

    it('approving over the socket resolves the approval at once, as HTTP does, and only once', async () => {
      const { agentId, conversationId } = await agentInConversation({ name: 'careful', engine: proposer, tools: ['propose'] });
      const client = await follow(conversationId);
      const { approval } = await pendingApproval(client, conversationId);
      expect(approval).toMatchObject({ agentId, approvalId: expect.any(String), reason: 'check', action: { index: 0, proposed: { action: 'reply', text: 'approved reply' }, onTimeout: 'reject' } });

      const ack = await client.command({ type: 'approval', conversationId, approvalId: approval.approvalId, decision: 'approve', comment: 'go ahead', requestId: 'ok' });
      expect(ack).toEqual({
        type: 'ack',
        of: 'approval',
        conversationId,
        approvalId: approval.approvalId,
        decision: 'approve',
        position: expect.any(Number),
        correlationId: expect.any(String),
        requestId: 'ok',
      });
      if (ack.type !== 'ack') throw new Error('not an ack');
      // Acknowledged means readable: the approval is no longer pending.
      expect((await get(`/api/v1/conversations/${conversationId}?minPosition=${ack.position}`)).pendingApprovals).toEqual([]);
      const resolved = await client.waitForPosition(`conversation:${conversationId}`, ack.position);
      expect(resolved).toMatchObject({
        eventType: 'conversation.approval-resolved',
        data: { approvalId: approval.approvalId, decision: 'approve', comment: 'go ahead', resolvedBy: { kind: 'api-key' } },
        metadata: { correlationId: ack.correlationId },
      });

      // Decided once: a second decision is refused as HTTP refuses it.
      await expect(client.command({ type: 'approval', conversationId, approvalId: approval.approvalId, decision: 'reject', requestId: 'again' })).resolves.toMatchObject({
        type: 'error',
        of: 'approval',
        code: 'APPROVAL_ALREADY_RESOLVED',
        requestId: 'again',
      });
      const http = await api.request(`/api/v1/conversations/${conversationId}/approvals/${approval.approvalId}`, { method: 'POST', json: { decision: 'reject' } });
      expect(http.status).toBe(409);
      expect(await http.json()).toMatchObject({ code: 'APPROVAL_ALREADY_RESOLVED' });
    });

    it('an approval given over the socket runs the proposed action: the decision succeeds and the reply appears', async () => {
      const { agentId, conversationId } = await agentInConversation({ name: 'trusting', engine: proposer, tools: ['propose'] });
      const client = await follow(conversationId);
      const { approval } = await pendingApproval(client, conversationId);
      const ack = await client.command({ type: 'approval', conversationId, approvalId: approval.approvalId, decision: 'approve', requestId: 'yes' });
      expect(ack).toMatchObject({ type: 'ack', of: 'approval', decision: 'approve' });

      const [decision] = await eventually('the proposal settled', async () => {
        const items = await decisions(agentId);
        return items.length === 1 && (items[0].actions as Json[])[0]?.status !== 'pending' ? items : undefined;
      });
      expect((decision.actions as Json[])[0]).toMatchObject({ index: 0, status: 'succeeded', result: { approval: 'approve', approvalId: approval.approvalId } });
      const messages = await eventually('the approved reply', async () => {
        const items = (await get(`/api/v1/conversations/${conversationId}`)).messages as Json[];
        return items.length >= 2 ? items : undefined;
      });
      expect(messages.map((m) => m.content)).toEqual(['please do it', 'approved reply']);
      await expect(client.waitFor((m) => isEvent(m) && m.eventType === 'conversation.reply-recorded', 'the approved reply event')).resolves.toMatchObject({
        data: { content: 'approved reply', agentId },
      });
    });

    it('rejecting over the socket settles the proposal without running it', async () => {
      const { agentId, conversationId } = await agentInConversation({ name: 'overruled', engine: proposer, tools: ['propose'] });
      const client = await follow(conversationId);
      const { approval } = await pendingApproval(client, conversationId);

      const ack = await client.command({ type: 'approval', conversationId, approvalId: approval.approvalId, decision: 'reject', requestId: 'no' });
      expect(ack).toMatchObject({ type: 'ack', of: 'approval', approvalId: approval.approvalId, decision: 'reject', requestId: 'no' });

      const [decision] = await eventually('the proposal settled', async () => {
        const items = await decisions(agentId);
        return items.length === 1 && (items[0].actions as Json[])[0]?.status !== 'pending' ? items : undefined;
      });
      expect((decision.actions as Json[])[0]).toMatchObject({ index: 0, status: 'succeeded', result: { approval: 'reject', approvalId: approval.approvalId } });
      const view = await get(`/api/v1/conversations/${conversationId}`);
      expect((view.messages as Json[]).map((m) => m.content)).toEqual(['please do it']);
      expect(view.pendingApprovals).toEqual([]);
      expect(client.events(`conversation:${conversationId}`).map((e) => e.eventType)).not.toContain('conversation.reply-recorded');
    });
  });

  it('takes a command from the roles the HTTP route takes it from (no route restricts roles yet: a viewer may post)', async () => {
    const { conversationId } = await agentInConversation({ name: 'viewer-parity', engine: rulesReplier, tools: ['reply'] });
    const viewerKey = await issueKey(DEFAULT_TENANT_ID, 'viewer');
    const http = await api.request(`/api/v1/conversations/${conversationId}/messages`, { method: 'POST', headers: { 'x-api-key': viewerKey }, json: { content: 'over http' } });
    expect(http.status).toBe(202);
    const client = await connect(viewerKey);
    await expect(client.command({ type: 'message', conversationId, content: 'over ws', requestId: 'viewer' })).resolves.toMatchObject({ type: 'ack', of: 'message' });
  });
});
