import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOpenAiCompatibleServer, type OpenAiCompatibleServer } from '../support/openai-compatible-server';
import { eventually } from './support/eventually';
import { killHard, spawnStandalone, type StandaloneProcess } from './support/standalone-process';
import { WebhookReceiver } from './support/webhook-receiver';

jest.setTimeout(300_000);

const KEY = 'agent-crash-admin-key-0123456789';
type Json = Record<string, unknown>;

/**
 * kill -9 in the middle of decisions: an LLM agent whose model answers slowly (so a decision is in
 * flight at the kill) and a rules agent, both calling a webhook for every order. After a restart on
 * the same data, every input is decided exactly once, and every webhook key (decisionId:index)
 * reached the receiver; a key arrives twice only for the calls whose outcome was not yet recorded
 * at the kill (at most one per agent), and the receiver, honouring Idempotency-Key, applies it once.
 */
describe('kill -9 during decisions (standalone process)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-agent-kill9-'));
  const receiver = new WebhookReceiver();
  let hookUrl = '';
  let llm: OpenAiCompatibleServer;
  let proc: StandaloneProcess | null = null;

  beforeAll(async () => {
    await receiver.start();
    hookUrl = receiver.url;
    llm = await startOpenAiCompatibleServer();
  });
  afterAll(async () => {
    if (proc) await killHard(proc.child);
    await llm.close();
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const call = async (baseUrl: string, method: string, path: string, json?: unknown): Promise<Json> => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { 'x-api-key': KEY, ...(json !== undefined && { 'content-type': 'application/json' }) },
      ...(json !== undefined && { body: JSON.stringify(json) }),
    });
    return (await res.json()) as Json;
  };
  const ledger = async (baseUrl: string, agentId: string): Promise<Json[]> => (await call(baseUrl, 'GET', `/api/v1/agents/${agentId}/decisions?limit=500`)).items as Json[];

  it('decides every input once and calls every webhook key, once per key for an idempotent receiver', async () => {
    const orders = 20;
    // One slow answer per order: the model takes 150 ms, so the kill lands mid-decision.
    for (let i = 0; i < orders + 5; i += 1) {
      llm.enqueue({ kind: 'tool-calls', calls: [{ name: 'call-webhook', arguments: { url: hookUrl, body: { from: 'llm' } } }], delayMs: 150 });
    }
    const env = { MERIDIAN_DATA_DIR: dataDir, MERIDIAN_ADMIN_API_KEY: KEY };
    proc = await spawnStandalone(env);
    const llmAgent = await call(proc.baseUrl, 'POST', '/api/v1/agents', {
      id: 'crash-llm',
      name: 'crash-llm',
      kind: 'executor',
      subscriptions: [{ type: 'order.placed' }],
      engine: { type: 'llm', provider: 'openai-compatible', model: 'test-model', baseUrl: llm.baseUrl },
      tools: ['call-webhook'],
    });
    const rulesAgent = await call(proc.baseUrl, 'POST', '/api/v1/agents', {
      id: 'crash-rules',
      name: 'crash-rules',
      kind: 'executor',
      subscriptions: [{ type: 'order.placed' }],
      engine: { type: 'rules', rules: [{ then: [{ action: 'call-webhook', url: hookUrl, body: { order: '{{event.subject}}' } }, { action: 'remember', key: 'last', value: '{{event.subject}}' }] }] },
      tools: ['call-webhook', 'remember'],
    });
    expect([llmAgent.id, rulesAgent.id]).toEqual(['crash-llm', 'crash-rules']);
    const accepted = await call(proc.baseUrl, 'POST', '/api/v1/events', Array.from({ length: orders }, (_, i) => ({ specversion: '1.0', id: `o-${i}`, source: 'urn:test:crash', type: 'order.placed', subject: `order-${i}`, data: { i } })));
    expect(accepted.accepted).toBe(orders);

    // Kill once the LLM agent is part-way through its inputs (a call to the model is in flight).
    await eventually('a few LLM decisions', async () => (llm.completionRequests.length >= 5 ? true : undefined), { timeoutMs: 60_000, intervalMs: 10 });
    await killHard(proc.child);
    const requestsBeforeKill = llm.completionRequests.length;
    expect(requestsBeforeKill).toBeLessThan(orders);

    proc = await spawnStandalone(env);
    const baseUrl = proc.baseUrl;
    const [llmLedger, rulesLedger] = await eventually(
      'every input decided and acted on',
      async () => {
        const both = [await ledger(baseUrl, 'crash-llm'), await ledger(baseUrl, 'crash-rules')];
        const complete = both.every((items) => items.length === orders && items.every((d) => (d.actions as Json[]).every((a) => a.status === 'succeeded')));
        return complete ? both : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );

    for (const items of [llmLedger, rulesLedger]) {
      const inputs = items.map((d) => ((d.input as { payload: { subject: string } }).payload.subject));
      expect(new Set(inputs).size).toBe(orders);
      expect(inputs).toEqual(Array.from({ length: orders }, (_, i) => `order-${i}`));
    }
    // Every action's key reached the receiver; repeats only for outcomes unrecorded at the kill.
    const expectedKeys = [...llmLedger, ...rulesLedger].map((d) => `${d.decisionId}:0`);
    const deliveries = receiver.calls.map((call) => String(call.key));
    const applied = new Set(deliveries);
    expect([...applied].sort()).toEqual([...expectedKeys].sort());
    const repeats = deliveries.length - applied.size;
    expect(repeats).toBeLessThanOrEqual(2);
    // The model was asked once per input, plus at most the one call in flight at the kill.
    expect(llm.completionRequests.length).toBeGreaterThanOrEqual(orders);
    expect(llm.completionRequests.length).toBeLessThanOrEqual(orders + 1);
  });
});
