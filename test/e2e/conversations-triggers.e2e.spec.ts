import { randomUUID } from 'node:crypto';
import { DeciderCommandExecutor } from '@meridian/agents';
import { conversationDecider, streamName } from '@meridian/domain';
import { MERIDIAN_CONFIG, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { startStandalone, type RunningApp } from './support/standalone-app';

jest.setTimeout(120_000);

type Json = Record<string, unknown>;

/** The API.md "Triggers" example, verbatim but for the agent id. */
const apiMdTrigger = (agentId: string): Json => ({
  name: 'unshipped-orders',
  agentId,
  condition: { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT2H', per: 'subject' },
  action: { kind: 'wake-agent', task: 'Order {{subject}} has not shipped' },
  cooldown: 'PT10M',
});

describe('Conversations and triggers over HTTP (standalone)', () => {
  let api: RunningApp;
  let agentId: string;

  const post = (path: string, json?: unknown, headers: Record<string, string> = {}) => api.request(path, { method: 'POST', headers, ...(json !== undefined ? { json } : {}) });
  const patch = (path: string, json: unknown, headers: Record<string, string> = {}) => api.request(path, { method: 'PATCH', json, headers });
  const remove = (path: string, headers: Record<string, string> = {}) => api.request(path, { method: 'DELETE', headers });

  async function createAgent(name = `agent-${randomUUID().slice(0, 8)}`): Promise<string> {
    const res = await post('/api/v1/agents', {
      name,
      kind: 'communicator',
      engine: { type: 'rules', rules: [{ name: 'greet', then: [{ action: 'reply', text: 'Hello {{content}}' }] }] },
      tools: ['reply'],
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  }

  /** A problem+json answer with the given status and code; returns its body. */
  async function expectProblem(res: Response, status: number, code: string): Promise<Json & { errors?: { path: string; message: string }[] }> {
    const body = (await res.json()) as Json & { errors?: { path: string; message: string }[] };
    expect({ status: res.status, code: body.code }).toEqual({ status, code });
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(body).toMatchObject({ status, code, correlationId: expect.any(String) });
    return body;
  }

  const paths = (body: { errors?: { path: string }[] }) => (body.errors ?? []).map((e) => e.path);

  beforeAll(async () => {
    api = await startStandalone();
    agentId = await createAgent('order-watcher');
  });
  afterAll(() => api.close());

  it('publishes the routes in the OpenAPI document with the schemas that validate them', async () => {
    const doc = (await (await api.request('/docs-json')).json()) as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Json }> } }>> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/conversations',
        '/api/v1/conversations/{id}/messages',
        '/api/v1/conversations/{id}/approvals/{approvalId}',
        '/api/v1/triggers',
        '/api/v1/triggers/{id}',
        '/api/v1/triggers/{id}/enable',
        '/api/v1/triggers/{id}/disable',
      ]),
    );
    const createTrigger = doc.paths['/api/v1/triggers'].post.requestBody?.content['application/json'].schema;
    expect(createTrigger).toMatchObject({ additionalProperties: false, required: expect.arrayContaining(['name', 'agentId', 'condition', 'action']) });
    expect(Object.keys(doc.paths['/api/v1/triggers/{id}'])).toEqual(expect.arrayContaining(['patch', 'delete']));
  });

  describe('conversations', () => {
    it('starts a conversation with an agent: 201, Location, ETag and the conversation', async () => {
      const res = await post('/api/v1/conversations', { agentIds: [agentId], title: 'Late orders' });
      expect(res.status).toBe(201);
      const body = (await res.json()) as Json;
      expect(body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        title: 'Late orders',
        status: 'open',
        agentIds: [agentId],
        startedBy: { kind: 'api-key', id: expect.any(String) },
        messageCount: 0,
        pendingApprovals: [],
        settledApprovals: {},
        version: 1,
        revision: 0,
      });
      expect(res.headers.get('etag')).toBe('"0"');
      expect(res.headers.get('location')).toBe(`/api/v1/conversations/${String(body.id)}`);
    });

    it('takes a client id once: the same id again is 409 CONVERSATION_ALREADY_EXISTS', async () => {
      const id = `conv-${randomUUID()}`;
      const first = await post('/api/v1/conversations', { id, agentIds: [agentId] });
      expect(first.status).toBe(201);
      expect(await first.json()).toMatchObject({ id, agentIds: [agentId] });
      await expectProblem(await post('/api/v1/conversations', { id, agentIds: [agentId] }), 409, 'CONVERSATION_ALREADY_EXISTS');
    });

    it('accepts messages with 202, a fresh message id each and increasing positions', async () => {
      const id = ((await (await post('/api/v1/conversations', { agentIds: [agentId] })).json()) as { id: string }).id;
      const first = await post(`/api/v1/conversations/${id}/messages`, { content: 'Where is order 42?' });
      expect(first.status).toBe(202);
      const a = (await first.json()) as { messageId: string; position: number };
      expect(a).toEqual({ messageId: expect.stringMatching(/^[0-9a-f-]{36}$/), position: expect.any(Number) });
      expect(a.position).toBeGreaterThan(0);
      const b = (await (await post(`/api/v1/conversations/${id}/messages`, { content: 'And order 43?' })).json()) as { messageId: string; position: number };
      expect(b.messageId).not.toBe(a.messageId);
      expect(b.position).toBeGreaterThan(a.position);
    });

    it('answers 404 CONVERSATION_NOT_FOUND for a conversation that does not exist', async () => {
      await expectProblem(await post(`/api/v1/conversations/${randomUUID()}/messages`, { content: 'hello?' }), 404, 'CONVERSATION_NOT_FOUND');
      await expectProblem(await post(`/api/v1/conversations/${randomUUID()}/approvals/${randomUUID()}`, { decision: 'approve' }), 404, 'CONVERSATION_NOT_FOUND');
    });

    it('answers 404 APPROVAL_NOT_FOUND for an approval the conversation never asked for', async () => {
      const id = ((await (await post('/api/v1/conversations', { agentIds: [agentId] })).json()) as { id: string }).id;
      await expectProblem(await post(`/api/v1/conversations/${id}/approvals/${randomUUID()}`, { decision: 'approve' }), 404, 'APPROVAL_NOT_FOUND');
    });

    it('records a person’s decision on a pending approval once', async () => {
      const id = ((await (await post('/api/v1/conversations', { agentIds: [agentId] })).json()) as { id: string }).id;
      // An agent asks for approval the way the runtime does: a command on the conversation's stream.
      const config = api.app.get<MeridianConfig>(MERIDIAN_CONFIG);
      const approvalId = randomUUID();
      await api.app.get(DeciderCommandExecutor).execute({
        decider: conversationDecider,
        streamName: streamName('conversation', id, config.tenantId),
        command: {
          type: 'RequestApproval',
          data: { conversationId: id, approvalId, agentId, decisionId: randomUUID(), action: { action: 'reply', text: 'Refund order 42' }, reason: 'refunds need a person' },
        },
        context: { now: new Date().toISOString(), actor: { kind: 'agent', id: agentId }, tenantId: config.tenantId, correlationId: randomUUID(), newId: randomUUID },
      });

      await expectProblem(await post(`/api/v1/conversations/${id}/approvals/${approvalId}`, { decision: 'approve' }, { 'if-match': '"0"' }), 412, 'CONCURRENCY_CONFLICT');
      const res = await post(`/api/v1/conversations/${id}/approvals/${approvalId}`, { decision: 'approve', comment: 'ok, refund it' }, { 'if-match': '"1"' });
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe('"2"');
      expect(await res.json()).toMatchObject({ id, pendingApprovals: [], settledApprovals: { [approvalId]: 'approved' }, revision: 2, version: 3 });
      await expectProblem(await post(`/api/v1/conversations/${id}/approvals/${approvalId}`, { decision: 'reject' }), 409, 'APPROVAL_ALREADY_RESOLVED');
    });

    it('refuses agents that do not exist or are retired with 422, pointing at them', async () => {
      const unknown = `ghost-${randomUUID()}`;
      const missing = await expectProblem(await post('/api/v1/conversations', { agentIds: [agentId, unknown] }), 422, 'AGENT_NOT_FOUND');
      expect(missing.errors).toEqual([{ path: '/agentIds/1', message: expect.stringContaining(unknown) }]);

      const retiredId = await createAgent();
      expect((await remove(`/api/v1/agents/${retiredId}`)).status).toBe(200);
      const retired = await expectProblem(await post('/api/v1/conversations', { agentIds: [retiredId] }), 422, 'AGENT_RETIRED');
      expect(paths(retired)).toEqual(['/agentIds/0']);
    });

    it('answers 400 VALIDATION_FAILED with the paths of every bad field', async () => {
      expect(paths(await expectProblem(await post('/api/v1/conversations', { agentIds: [] }), 400, 'VALIDATION_FAILED'))).toContain('/agentIds');
      expect(paths(await expectProblem(await post('/api/v1/conversations', { agentIds: [agentId, agentId] }), 400, 'VALIDATION_FAILED'))).toContain('/agentIds');
      expect(paths(await expectProblem(await post('/api/v1/conversations', { title: 'x' }), 400, 'VALIDATION_FAILED'))).toContain('/agentIds');
      const several = await expectProblem(await post('/api/v1/conversations', { agentIds: [agentId], title: '   ', colour: 'blue' }), 400, 'VALIDATION_FAILED');
      expect(paths(several)).toEqual(expect.arrayContaining(['/title', '/colour']));
      await expectProblem(await post('/api/v1/conversations'), 400, 'VALIDATION_FAILED');

      const id = ((await (await post('/api/v1/conversations', { agentIds: [agentId] })).json()) as { id: string }).id;
      expect(paths(await expectProblem(await post(`/api/v1/conversations/${id}/messages`, { content: '' }), 400, 'VALIDATION_FAILED'))).toEqual(['/content']);
      expect(paths(await expectProblem(await post(`/api/v1/conversations/${id}/messages`, { content: 'hi', from: 'x' }), 400, 'VALIDATION_FAILED'))).toEqual(['/from']);
      const decision = await expectProblem(await post(`/api/v1/conversations/${id}/approvals/a1`, { decision: 'maybe' }), 400, 'VALIDATION_FAILED');
      expect(paths(decision)).toContain('/decision');
    });
  });

  describe('triggers', () => {
    it('defines the API.md example: 201 with ETag, Location and the trigger at version 1', async () => {
      const res = await post('/api/v1/triggers', apiMdTrigger(agentId));
      expect(res.status).toBe(201);
      const body = (await res.json()) as Json;
      expect(body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'unshipped-orders',
        agentId,
        condition: { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT2H', per: 'subject' },
        action: { kind: 'wake-agent', task: 'Order {{subject}} has not shipped' },
        cooldown: 'PT10M',
        enabled: true,
        deleted: false,
        firingCount: 0,
        lastFiredAt: null,
        version: 1,
        revision: 0,
      });
      expect(res.headers.get('etag')).toBe('"0"');
      expect(res.headers.get('location')).toBe(`/api/v1/triggers/${String(body.id)}`);
    });

    it.each<[string, Json, Json]>([
      ['event', { kind: 'event', match: { type: 'order.*', filter: { '>': [{ var: 'data.amount' }, 100] } } }, { kind: 'send-message', to: 'order-watcher', content: 'Big order {{subject}}' }],
      ['threshold', { kind: 'threshold', match: { type: 'payment.failed' }, count: 3, within: 'PT15M', per: 'global' }, { kind: 'emit-event', eventType: 'alert.raised', subject: '{{subject}}', data: { level: 'high' } }],
      ['sequence', { kind: 'sequence', steps: [{ type: 'cart.created' }, { type: 'cart.abandoned' }], within: 'P1D' }, { kind: 'wake-agent', task: 'Follow up' }],
      ['schedule', { kind: 'schedule', cron: '0 9 * * 1-5', timezone: 'Europe/Paris' }, { kind: 'wake-agent', task: 'Morning report' }],
      ['state', { kind: 'state', subjectType: 'order', predicate: { '==': [{ var: 'status' }, 'stuck'] } }, { kind: 'wake-agent', task: 'Unstick {{subject}}' }],
    ])('accepts a %s condition', async (_kind, condition, action) => {
      const res = await post('/api/v1/triggers', { name: `t-${randomUUID().slice(0, 8)}`, agentId, condition, action });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ condition: { ...condition, ...('within' in condition && !('per' in condition) ? { per: 'subject' } : {}) }, action, version: 1 });
    });

    it('changes under If-Match: a stale ETag is 412 CONCURRENCY_CONFLICT, the current one gives version + 1', async () => {
      const created = await post('/api/v1/triggers', apiMdTrigger(agentId));
      const { id } = (await created.json()) as { id: string };
      const etag = created.headers.get('etag') as string;

      const stale = await expectProblem(await patch(`/api/v1/triggers/${id}`, { cooldown: 'PT30M' }, { 'if-match': '"7"' }), 412, 'CONCURRENCY_CONFLICT');
      expect(stale).toMatchObject({ expected: 7, actual: 0 });

      const res = await patch(`/api/v1/triggers/${id}`, { cooldown: 'PT30M', condition: { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT4H' } }, { 'if-match': etag });
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe('"1"');
      expect(await res.json()).toMatchObject({ id, cooldown: 'PT30M', condition: { within: 'PT4H', per: 'subject' }, version: 2, revision: 1 });

      // The old ETag no longer holds.
      await expectProblem(await patch(`/api/v1/triggers/${id}`, { name: 'renamed' }, { 'if-match': etag }), 412, 'CONCURRENCY_CONFLICT');
      const removed = await patch(`/api/v1/triggers/${id}`, { cooldown: null });
      expect(await removed.json()).toMatchObject({ version: 3 });
      await expectProblem(await patch(`/api/v1/triggers/${id}`, { name: 'renamed' }, { 'if-match': 'three' }), 400, 'INVALID_IF_MATCH');
    });

    it('disables and enables, refusing a repeat with 409', async () => {
      const { id } = (await (await post('/api/v1/triggers', apiMdTrigger(agentId))).json()) as { id: string };
      const disabled = await post(`/api/v1/triggers/${id}/disable`);
      expect(disabled.status).toBe(200);
      expect(await disabled.json()).toMatchObject({ id, enabled: false, version: 1 });
      expect(disabled.headers.get('etag')).toBe('"1"');
      await expectProblem(await post(`/api/v1/triggers/${id}/disable`), 409, 'TRIGGER_ALREADY_DISABLED');
      const enabled = await post(`/api/v1/triggers/${id}/enable`, undefined, { 'if-match': '"1"' });
      expect(enabled.status).toBe(200);
      expect(await enabled.json()).toMatchObject({ id, enabled: true, revision: 2 });
    });

    it('deletes with 200 and the final trigger; after that every change is 410 TRIGGER_DELETED', async () => {
      const { id } = (await (await post('/api/v1/triggers', apiMdTrigger(agentId))).json()) as { id: string };
      const deleted = await remove(`/api/v1/triggers/${id}`);
      expect(deleted.status).toBe(200);
      expect(await deleted.json()).toMatchObject({ id, deleted: true, enabled: false, revision: 1 });
      await expectProblem(await patch(`/api/v1/triggers/${id}`, { name: 'again' }), 410, 'TRIGGER_DELETED');
      await expectProblem(await post(`/api/v1/triggers/${id}/enable`), 410, 'TRIGGER_DELETED');
      await expectProblem(await post(`/api/v1/triggers/${id}/disable`), 410, 'TRIGGER_DELETED');
      await expectProblem(await remove(`/api/v1/triggers/${id}`), 410, 'TRIGGER_DELETED');
      await expectProblem(await post('/api/v1/triggers', { ...apiMdTrigger(agentId), id }), 410, 'TRIGGER_DELETED');
    });

    it('answers 404 TRIGGER_NOT_FOUND for a trigger that does not exist', async () => {
      await expectProblem(await patch(`/api/v1/triggers/${randomUUID()}`, { name: 'x' }), 404, 'TRIGGER_NOT_FOUND');
      await expectProblem(await post(`/api/v1/triggers/${randomUUID()}/enable`), 404, 'TRIGGER_NOT_FOUND');
    });

    it('refuses a bad cron expression or time zone with 400 at /condition/cron and /condition/timezone', async () => {
      const body = (cron: string, timezone?: string) => ({
        ...apiMdTrigger(agentId),
        condition: { kind: 'schedule', cron, ...(timezone !== undefined ? { timezone } : {}) },
      });
      const bad = await expectProblem(await post('/api/v1/triggers', body('61 25 * * *')), 400, 'VALIDATION_FAILED');
      expect(bad.errors).toEqual([{ path: '/condition/cron', message: expect.stringContaining('61 25 * * *') }]);
      expect(paths(await expectProblem(await post('/api/v1/triggers', body('* * *')), 400, 'VALIDATION_FAILED'))).toEqual(['/condition/cron']);
      expect(paths(await expectProblem(await post('/api/v1/triggers', body('0 9 * * *', 'Mars/Olympus_Mons')), 400, 'VALIDATION_FAILED'))).toEqual(['/condition/timezone']);

      const { id } = (await (await post('/api/v1/triggers', body('@daily', 'UTC'))).json()) as { id: string };
      const change = await expectProblem(await patch(`/api/v1/triggers/${id}`, { condition: { kind: 'schedule', cron: 'every day' } }), 400, 'VALIDATION_FAILED');
      expect(paths(change)).toEqual(['/condition/cron']);
    });

    it('refuses bad durations, unknown kinds and unknown fields with 400 and their paths', async () => {
      const example = apiMdTrigger(agentId);
      const durations = await expectProblem(
        await post('/api/v1/triggers', { ...example, cooldown: 'P1M', condition: { ...(example.condition as Json), within: '2 hours' } }),
        400,
        'VALIDATION_FAILED',
      );
      expect(paths(durations).sort()).toEqual(['/condition/within', '/cooldown']);
      expect(paths(await expectProblem(await post('/api/v1/triggers', { ...example, condition: { kind: 'sometimes' } }), 400, 'VALIDATION_FAILED'))).toContain('/condition/kind');
      expect(paths(await expectProblem(await post('/api/v1/triggers', { ...example, priority: 1 }), 400, 'VALIDATION_FAILED'))).toEqual(['/priority']);
      expect(paths(await expectProblem(await post('/api/v1/triggers', { ...example, name: undefined }), 400, 'VALIDATION_FAILED'))).toEqual(['/name']);

      const { id } = (await (await post('/api/v1/triggers', example)).json()) as { id: string };
      expect(paths(await expectProblem(await patch(`/api/v1/triggers/${id}`, {}), 400, 'VALIDATION_FAILED'))).toEqual(['']);
      expect(paths(await expectProblem(await patch(`/api/v1/triggers/${id}`, { agentId }), 400, 'VALIDATION_FAILED'))).toEqual(['/agentId']);
    });

    it('refuses a trigger for an agent that does not exist, or is retired, with 422', async () => {
      const missing = await expectProblem(await post('/api/v1/triggers', apiMdTrigger(`ghost-${randomUUID()}`)), 422, 'AGENT_NOT_FOUND');
      expect(paths(missing)).toEqual(['/agentId']);
      const retiredId = await createAgent();
      expect((await remove(`/api/v1/agents/${retiredId}`)).status).toBe(200);
      expect(paths(await expectProblem(await post('/api/v1/triggers', apiMdTrigger(retiredId)), 422, 'AGENT_RETIRED'))).toEqual(['/agentId']);
    });
  });
});
