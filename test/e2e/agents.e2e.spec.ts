import { startStandalone, type RunningApp } from './support/standalone-app';

jest.setTimeout(120_000);

const definition = {
  name: 'order-watcher',
  kind: 'monitor',
  description: 'Watches large orders',
  subscriptions: [{ type: 'order.*', filter: { '>': [{ var: 'data.amount' }, 100] } }],
  engine: { type: 'rules', rules: [{ when: { '>': [{ var: 'event.data.amount' }, 1000] }, then: [{ action: 'reply', text: 'Large order {{event.subject}}' }] }] },
  tools: ['reply'],
};

describe('Agents over HTTP (standalone)', () => {
  let api: RunningApp;

  beforeAll(async () => {
    api = await startStandalone();
  });
  afterAll(() => api.close());

  const json = async <T = Record<string, unknown>>(res: Response): Promise<T> => (await res.json()) as T;

  it('defines an agent (201, Location, ETag) and reads it back with the same shape', async () => {
    const created = await api.request('/api/v1/agents', { method: 'POST', json: definition });
    expect(created.status).toBe(201);
    const body = await json(created);
    expect(body).toMatchObject({ name: 'order-watcher', kind: 'monitor', status: 'active', version: 1, revision: 0, budgets: { maxHops: 8, maxDecisionsPerChain: 20, maxTokensPerChain: 20000 }, mailboxPolicy: 'queue' });
    expect(created.headers.get('location')).toBe(`/api/v1/agents/${body.id as string}`);
    expect(created.headers.get('etag')).toBe('"0"');

    const read = await api.request(`/api/v1/agents/${body.id as string}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe('"0"');
    expect(await json(read)).toEqual(body);
  });

  it('reconfigures with If-Match: a stale ETag is 412 and changes nothing; the right one makes a new version', async () => {
    const { id } = await json<{ id: string }>(await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, name: 'versioned' } }));
    await api.request(`/api/v1/agents/${id}/pause`, { method: 'POST' }); // revision 1
    const stale = await api.request(`/api/v1/agents/${id}`, { method: 'PATCH', json: { description: 'stale' }, headers: { 'if-match': '"0"' } });
    expect(stale.status).toBe(412);
    expect(await json(stale)).toMatchObject({ code: 'CONCURRENCY_CONFLICT', expected: 0, actual: 1 });
    expect(await json(await api.request(`/api/v1/agents/${id}`))).toMatchObject({ description: 'Watches large orders', revision: 1 });

    const ok = await api.request(`/api/v1/agents/${id}`, { method: 'PATCH', json: { description: 'fresh', budgets: { maxHops: 3 } }, headers: { 'if-match': '"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).toBe('"2"');
    expect(await json(ok)).toMatchObject({ description: 'fresh', version: 2, revision: 2, status: 'paused', budgets: { maxHops: 3, maxDecisionsPerChain: 20 } });
  });

  it('pauses, resumes and retires; lifecycle rules are enforced with stable codes', async () => {
    const { id } = await json<{ id: string }>(await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, name: 'lifecycle' } }));
    expect(await json(await api.request(`/api/v1/agents/${id}/resume`, { method: 'POST' }))).toMatchObject({ code: 'AGENT_NOT_PAUSED' });
    expect(await json(await api.request(`/api/v1/agents/${id}/pause`, { method: 'POST' }))).toMatchObject({ status: 'paused' });
    const again = await api.request(`/api/v1/agents/${id}/pause`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(await json(again)).toMatchObject({ code: 'AGENT_ALREADY_PAUSED' });
    expect(await json(await api.request(`/api/v1/agents/${id}/resume`, { method: 'POST' }))).toMatchObject({ status: 'active' });
    expect(await json(await api.request(`/api/v1/agents/${id}`, { method: 'DELETE' }))).toMatchObject({ status: 'retired' });
    const afterRetire = await api.request(`/api/v1/agents/${id}`, { method: 'PATCH', json: { description: 'x' } });
    expect(afterRetire.status).toBe(410);
    expect(await json(afterRetire)).toMatchObject({ code: 'AGENT_RETIRED' });
  });

  it('gives the state at a past position (?asOf) and the raw history from the event store', async () => {
    const created = await json<{ id: string }>(await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, name: 'travel' } }));
    const history1 = await json<{ items: Array<{ position: number; type: string }> }>(await api.request(`/api/v1/agents/${created.id}/history`));
    const definedAt = history1.items[0].position;
    await api.request(`/api/v1/agents/${created.id}`, { method: 'PATCH', json: { description: 'later' } });
    expect(await json(await api.request(`/api/v1/agents/${created.id}?asOf=${definedAt}`))).toMatchObject({ description: 'Watches large orders', version: 1 });
    expect(await json(await api.request(`/api/v1/agents/${created.id}`))).toMatchObject({ description: 'later', version: 2 });
    const history = await json<{ items: Array<{ type: string; metadata: { actor: { kind: string } } }> }>(await api.request(`/api/v1/agents/${created.id}/history`));
    expect(history.items.map((e) => e.type)).toEqual(['agent.defined', 'agent.reconfigured']);
    expect(history.items[0].metadata.actor).toMatchObject({ kind: 'api-key' });
    expect((await api.request(`/api/v1/agents/${created.id}?asOf=1`)).status).toBe(404);
  });

  it('rejects bad definitions with 4xx problem+json and stores nothing', async () => {
    const before = await json<{ items: unknown[] }>(await api.request('/api/v1/agents?limit=500'));
    const unknownField = await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, colour: 'blue' } });
    expect(unknownField.status).toBe(400);
    expect(await json(unknownField)).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: '/colour', message: 'unknown field' }] });
    const wrongType = await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, tools: 'reply' } });
    expect(wrongType.status).toBe(400);
    const toolNotAllowed = await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, tools: ['remember'] } });
    expect(toolNotAllowed.status).toBe(400);
    const toolProblem = await json<{ code: string; errors: Array<{ path: string; message: string }> }>(toolNotAllowed);
    expect(toolProblem.code).toBe('VALIDATION_FAILED');
    expect(toolProblem.errors).toContainEqual(expect.objectContaining({ path: '/engine/rules/0/then/0/action' }));
    const noRules = await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, engine: { type: 'rules', rules: [] } } });
    expect(noRules.status).toBe(400);
    const after = await json<{ items: unknown[] }>(await api.request('/api/v1/agents?limit=500'));
    expect(after.items).toHaveLength(before.items.length);
  });

  it('answers 404 AGENT_NOT_FOUND for unknown agents, on reads and writes', async () => {
    expect(await json(await api.request('/api/v1/agents/nope'))).toMatchObject({ status: 404, code: 'AGENT_NOT_FOUND' });
    expect((await api.request('/api/v1/agents/nope/pause', { method: 'POST' })).status).toBe(404);
    expect((await api.request('/api/v1/agents/nope/messages', { method: 'POST', json: { content: 'hi' } })).status).toBe(404);
  });

  it('takes a client-supplied id once (409 the second time) and replays an Idempotency-Key', async () => {
    const first = await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, id: 'agent-fixed-1', name: 'fixed' }, headers: { 'idempotency-key': 'k-agent-1' } });
    expect(first.status).toBe(201);
    const replay = await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, id: 'agent-fixed-1', name: 'fixed' }, headers: { 'idempotency-key': 'k-agent-1' } });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('location')).toBe('/api/v1/agents/agent-fixed-1');
    expect(replay.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(await replay.json()).toEqual(await first.json());
    const duplicate = await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, id: 'agent-fixed-1', name: 'fixed' } });
    expect(duplicate.status).toBe(409);
    expect(await json(duplicate)).toMatchObject({ code: 'AGENT_ALREADY_EXISTS' });
  });

  it('lists agents with pagination, and posts messages to an agent mailbox', async () => {
    for (let i = 0; i < 5; i++) await api.request('/api/v1/agents', { method: 'POST', json: { ...definition, name: `paged-${i}` } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Array<{ id: string }>; nextCursor: string | null } = await json(await api.request(`/api/v1/agents?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`));
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((a) => a.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(5);

    const message = await api.request(`/api/v1/agents/${seen[0]}/messages`, { method: 'POST', json: { content: 'hello' } });
    expect(message.status).toBe(202);
    const { messageId, position } = await json<{ messageId: string; position: number }>(message);
    expect(messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await json(await api.request(`/api/v1/agents/${seen[0]}?minPosition=${position}`))).toMatchObject({ messageCount: 1 });
  });
});
