import { startOpenAiCompatibleServer, type OpenAiCompatibleServer } from '../support/openai-compatible-server';
import { cloudEvent, startStandalone, type RunningApp } from './support/standalone-app';
import { eventually } from './support/eventually';

jest.setTimeout(180_000);

type Json = Record<string, unknown>;

/**
 * The LLM engine through the whole app: a model's tool call becomes an action, the ledger keeps the
 * answer verbatim with usage and cost, and neither a projection rebuild nor a restart calls the
 * model again (the local OpenAI-compatible server counts every request).
 */
describe('LLM agents (standalone, OpenAI-compatible server)', () => {
  let llm: OpenAiCompatibleServer;
  let api: RunningApp;
  const env = () => ({
    MERIDIAN_LLM_PRICES: JSON.stringify({ 'test-model': { inputUsdPerMillion: 1, outputUsdPerMillion: 2 } }),
    MERIDIAN_LLM_RETRY_BASE_DELAY_MS: '10',
  });

  beforeAll(async () => {
    llm = await startOpenAiCompatibleServer();
    api = await startStandalone(env());
  });
  afterAll(async () => {
    await api.close();
    await llm.close();
  });

  const post = async (path: string, json?: unknown): Promise<Json> => {
    const res = await api.request(path, { method: 'POST', ...(json !== undefined ? { json } : {}) });
    const body = (await res.json()) as Json;
    if (res.status >= 300) throw new Error(`POST ${path} → ${res.status}: ${JSON.stringify(body)}`);
    return body;
  };
  const get = async (path: string): Promise<Json> => (await (await api.request(path)).json()) as Json;
  const ledger = async (agentId: string) => ((await get(`/api/v1/agents/${agentId}/decisions?limit=100`)).items as Json[]) ?? [];

  it('turns a tool call into an action, records the answer verbatim, and never asks the model again on rebuild or restart', async () => {
    const agent = await post('/api/v1/agents', {
      name: 'llm-flagger',
      kind: 'analyst',
      instructions: 'Flag large orders.',
      subscriptions: [{ type: 'order.placed' }],
      engine: { type: 'llm', provider: 'openai-compatible', model: 'test-model', baseUrl: llm.baseUrl, temperature: 0 },
      tools: ['emit-event', 'remember'],
    });
    llm.enqueue({
      kind: 'tool-calls',
      calls: [
        { name: 'emit-event', arguments: { eventType: 'order.flagged', subject: 'order-llm-1', data: { why: 'large' } } },
        { name: 'remember', arguments: { key: 'flagged', value: 'order-llm-1' } },
      ],
      usage: { promptTokens: 120, completionTokens: 30 },
    });
    await post('/api/v1/events', cloudEvent('llm-1', { subject: 'order-llm-1', data: { amount: 9000 } }));

    const [decision] = await eventually('the LLM decision with its actions done', async () => {
      const items = await ledger(agent.id as string);
      return items.length === 1 && (items[0].actions as Json[]).every((a) => a.status === 'succeeded') ? items : undefined;
    });
    expect(llm.completionRequests).toHaveLength(1);
    const sent = llm.completionRequests[0].body;
    expect(sent?.messages?.[0]).toMatchObject({ role: 'system', content: 'Flag large orders.' });
    expect(JSON.stringify(sent?.messages?.[1]?.content)).toContain('order-llm-1');
    expect((sent?.tools ?? []).map((tool) => tool.function.name).sort()).toEqual(['emit-event', 'remember']);

    expect(decision).toMatchObject({
      status: 'decided',
      engine: { type: 'llm', provider: 'openai-compatible', model: 'test-model' },
      usage: { inputTokens: 120, outputTokens: 30, totalTokens: 150, costUsd: 0.00018 },
      actions: [
        { index: 0, action: { action: 'emit-event', eventType: 'order.flagged' }, status: 'succeeded' },
        { index: 1, action: { action: 'remember', key: 'flagged' }, status: 'succeeded' },
      ],
    });
    // The model's answer verbatim: its tool calls with their arguments.
    const answer = decision.output as { messages: { toolCalls: { name: string; args: unknown }[] }[] };
    expect(answer.messages[0].toolCalls.map((call) => [call.name, call.args])).toEqual([
      ['emit-event', { eventType: 'order.flagged', subject: 'order-llm-1', data: { why: 'large' } }],
      ['remember', { key: 'flagged', value: 'order-llm-1' }],
    ]);
    expect(decision.latencyMs).toBeGreaterThanOrEqual(0);
    const flagged = await eventually('the flagged event', async () => {
      const items = (await get('/api/v1/events?type=order.flagged&subject=order-llm-1')).items as Json[];
      return items.length > 0 ? items : undefined;
    });
    expect(flagged).toHaveLength(1);

    // GraphQL shows the same ledger.
    const graphql = await api.request('/graphql', {
      method: 'POST',
      json: { query: `{ agent(id: "${agent.id}") { decisions { items { decisionId status usage output actions { index status } } } } }` },
    });
    const gqlItems = ((await graphql.json()) as { data: { agent: { decisions: { items: Json[] } } } }).data.agent.decisions.items;
    expect(gqlItems).toEqual([expect.objectContaining({ decisionId: decision.decisionId, status: 'decided', usage: decision.usage, output: decision.output })]);

    // Rebuild the agents projection: the ledger comes back from the recorded decision, not the model.
    const rebuild = await api.request('/api/v1/admin/projections/agents/rebuild', { method: 'POST' });
    expect(rebuild.status).toBe(202);
    await eventually('the rebuilt agents projection', async () => {
      const items = (await get('/api/v1/admin/projections')).items as Json[];
      const agents = items.find((p) => p.name === 'agents');
      return agents !== undefined && (agents.activeVersion as number) >= 2 && !agents.rebuild ? agents : undefined;
    });
    expect(await ledger(agent.id as string)).toEqual([decision]);

    // Restart the whole process on the same data: nothing is decided again.
    const dataDir = api.dataDir;
    await api.close({ keepData: true });
    api = await startStandalone(env(), dataDir);
    await post('/api/v1/events', cloudEvent('llm-ignored', { type: 'invoice.sent', subject: 'invoice-1' }));
    const after = await eventually('the ledger after restart', async () => {
      const items = await ledger(agent.id as string);
      return items.length > 0 ? items : undefined;
    });
    expect(after).toEqual([decision]);
    expect(llm.completionRequests).toHaveLength(1);
  });

  it('retries provider errors, then records the failure visibly instead of acting', async () => {
    const agent = await post('/api/v1/agents', {
      name: 'llm-unlucky',
      kind: 'communicator',
      engine: { type: 'llm', provider: 'openai-compatible', model: 'test-model', baseUrl: llm.baseUrl },
      tools: ['reply'],
    });
    llm.reset();
    llm.enqueue({ kind: 'error', status: 503 }, { kind: 'error', status: 503 }, { kind: 'error', status: 503 });
    await post(`/api/v1/agents/${agent.id}/messages`, { content: 'are you there?' });
    const [failed] = await eventually('the failed decision', async () => {
      const items = await ledger(agent.id as string);
      return items.length > 0 ? items : undefined;
    });
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'LLM_PROVIDER_ERROR' }, actions: [] });
    expect(llm.completionRequests).toHaveLength(3);

    // The next input is decided normally: a plain text answer is a reply.
    llm.enqueue({ kind: 'text', text: 'Yes, I am here.' });
    await post(`/api/v1/agents/${agent.id}/messages`, { content: 'hello?' });
    const items = await eventually('the second decision', async () => {
      const all = await ledger(agent.id as string);
      return all.length === 2 && (all[1].actions as Json[]).every((a) => a.status !== 'pending') ? all : undefined;
    });
    expect(items[1]).toMatchObject({ status: 'decided', actions: [{ action: { action: 'reply', text: 'Yes, I am here.' }, status: 'succeeded' }] });
  });
});
