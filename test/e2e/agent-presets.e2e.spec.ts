import { randomUUID } from 'node:crypto';
import { DEFAULT_TENANT_ID, EVENT_STORE, SYSTEM_ACTOR, streamName, type EventStore } from '@meridian/domain';
import { agentPreset } from '@meridian/agents';
import { API_KEY_SERVICE, hashApiKey, type ApiKeyService } from '@meridian/infrastructure/auth/api-key.service';
import { startStandalone, type RunningApp } from './support/standalone-app';
import { eventually } from './support/eventually';
import { WebhookReceiver } from './support/webhook-receiver';

jest.setTimeout(120_000);

type Json = Record<string, unknown>;

describe('Built-in agent kinds (standalone): presets, and the platform events the monitor reacts to', () => {
  let api: RunningApp;
  const receiver = new WebhookReceiver();
  const run = randomUUID().slice(0, 8);

  beforeAll(async () => {
    await receiver.start('/fulfil');
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
  const get = async (path: string, headers?: Record<string, string>): Promise<Json> => {
    const res = await api.request(path, headers !== undefined ? { headers } : {});
    const body = (await res.json()) as Json;
    if (res.status >= 300) throw new Error(`GET ${path} → ${res.status}: ${JSON.stringify(body)}`);
    return body;
  };
  const decisions = async (agentId: string): Promise<Json[]> => (await get(`/api/v1/agents/${agentId}/decisions?limit=200`)).items as Json[];
  const events = async (type: string, subject?: string): Promise<Json[]> =>
    (await get(`/api/v1/events?type=${encodeURIComponent(type)}${subject !== undefined ? `&subject=${encodeURIComponent(subject)}` : ''}&limit=200`)).items as Json[];
  const ingest = (items: Json[]) => post('/api/v1/events', items);
  const orderEvent = (n: number, subject: string, type: string, data: Json) => ({ specversion: '1.0', id: `${subject}-${n}`, source: 'urn:test:shop', type, subject, data });

  async function viewerKey(): Promise<string> {
    const key = `mk_test_${randomUUID()}`;
    const keyId = `presets-viewer-${run}`;
    const store = api.app.get<EventStore>(EVENT_STORE, { strict: false });
    await store.append(
      streamName('apikey', keyId, DEFAULT_TENANT_ID),
      [
        {
          eventId: randomUUID(),
          type: 'api-key.issued',
          data: { keyId, name: 'presets viewer', role: 'viewer', tenantId: DEFAULT_TENANT_ID, sha256: hashApiKey(key), hint: key.slice(0, 6) },
          metadata: { occurredAt: new Date().toISOString(), correlationId: keyId, causationId: null, hop: 0, tenantId: DEFAULT_TENANT_ID, actor: SYSTEM_ACTOR },
        },
      ],
      { expected: 'no_stream' },
    );
    const keys = api.app.get<ApiKeyService>(API_KEY_SERVICE, { strict: false });
    await eventually('the viewer key', async () => (keys.authenticate(key) !== null ? true : undefined));
    return key;
  }

  it('GET /api/v1/agent-presets lists the four kinds with parameters and example definitions, to any authenticated role', async () => {
    const viewer = await viewerKey();
    const list = await get('/api/v1/agent-presets', { 'x-api-key': viewer });
    expect((list.items as Json[]).map((preset) => preset.kind)).toEqual(['analyst', 'communicator', 'executor', 'monitor']);
    for (const preset of list.items as Json[]) {
      expect(preset).toMatchObject({ description: expect.any(String), reactsTo: expect.any(String), does: expect.any(String), parameters: expect.any(Array) });
      expect(preset.exampleDefinition).toMatchObject({ kind: preset.kind, name: expect.any(String), engine: expect.any(Object), tools: expect.any(Array) });
    }
    const analyst = await get('/api/v1/agent-presets/analyst', { 'x-api-key': viewer });
    expect(analyst.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'threshold', type: 'integer', default: 5 })]));

    const missing = await api.request('/api/v1/agent-presets/oracle');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'AGENT_PRESET_NOT_FOUND' });
    expect((await api.request('/api/v1/agent-presets', { headers: { 'x-api-key': 'nope' } })).status).toBe(401);
  });

  it('an analyst created from its example emits analysis.burst once when an entity reaches the threshold, and analysis.outlier for a big value', async () => {
    const exampleDefinition = (await get('/api/v1/agent-presets/analyst')).exampleDefinition as Json;
    const analyst = await post('/api/v1/agents', { ...exampleDefinition, name: `order-analyst-${run}` });
    const subject = `order-${run}`;
    await ingest([1, 2, 3, 4, 5].map((n) => orderEvent(n, subject, n === 1 ? 'order.placed' : 'order.updated', { total: 10 * n })));

    const [burst] = await eventually('analysis.burst for the subject', async () => {
      const found = await events('analysis.burst', subject);
      return found.length > 0 ? found : undefined;
    });
    expect(burst).toMatchObject({
      source: `meridian://agents/${analyst.id as string}`,
      subject,
      data: { subject, eventType: 'order.updated', threshold: 5, count: '5', typeCount: '4', triggeredBy: `${subject}-5` },
    });

    // A sixth event, far above the outlier bound: an outlier, and no second burst.
    await ingest([orderEvent(6, subject, 'order.updated', { total: 5000 })]);
    const [outlier] = await eventually('analysis.outlier for the subject', async () => {
      const found = await events('analysis.outlier', subject);
      return found.length > 0 ? found : undefined;
    });
    expect(outlier).toMatchObject({ subject, data: { field: 'total', value: '5000', above: 1000 } });
    expect(await events('analysis.burst', subject)).toHaveLength(1);
    const ledger = await decisions(analyst.id as string);
    expect(ledger.map((decision) => (decision.output as Json).matchedRules)).toEqual([[{ index: 0, name: 'burst' }], [{ index: 1, name: 'outlier' }]]);
  });

  it('an executor from its preset calls the webhook with the event and emits its confirmation', async () => {
    const executor = await post('/api/v1/agents', agentPreset('executor', { name: `fulfilment-${run}`, eventType: 'shipment.requested', webhookUrl: receiver.url, confirmationType: 'shipment.dispatched' }));
    const subject = `shipment-${run}`;
    await ingest([orderEvent(1, subject, 'shipment.requested', { carrier: 'dhl', parcels: 2 })]);
    const [confirmation] = await eventually('the confirmation event', async () => {
      const found = await events('shipment.dispatched', subject);
      return found.length > 0 ? found : undefined;
    });
    expect(confirmation.data).toMatchObject({ eventId: `${subject}-1`, eventType: 'shipment.requested', webhook: receiver.url, method: 'POST' });
    const calls = receiver.calls.filter((call) => call.body.subject === subject);
    expect(calls).toHaveLength(1);
    expect(calls[0].body).toEqual({ id: `${subject}-1`, source: 'urn:test:shop', type: 'shipment.requested', subject, time: '', data: '{"carrier":"dhl","parcels":2}' });
    expect(calls[0].key).toMatch(/:0$/);
    const [decision] = await decisions(executor.id as string);
    expect((decision.actions as Json[]).map((action) => action.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('a monitor gets meridian.chain.halted exactly once per halted chain (not the refused decisions), and tells the on-call agent', async () => {
    const exampleDefinition = (await get('/api/v1/agent-presets/monitor')).exampleDefinition as Json;
    const monitor = await post('/api/v1/agents', { ...exampleDefinition, name: `platform-monitor-${run}` });
    const oncall = await post('/api/v1/agents', {
      name: `oncall-${run}`,
      kind: 'custom',
      tags: ['oncall'],
      engine: { type: 'rules', rules: [{ when: { '==': [{ var: 'input.kind' }, 'agent-message'] }, then: [{ action: 'remember', key: 'lastAlert', value: '{{message.content}}' }] }] },
      tools: ['remember'],
    });

    const pingPong = async (label: string) => {
      const ids = { ping: `ping-${label}-${run}`, pong: `pong-${label}-${run}` };
      const definition = (peer: string) => ({
        kind: 'custom',
        engine: { type: 'rules', rules: [{ then: [{ action: 'send-message', to: peer, content: '{{message.content}}!' }] }] },
        tools: ['send-message'],
        budgets: { maxDecisionsPerChain: 3 },
      });
      await post('/api/v1/agents', { id: ids.ping, name: ids.ping, ...definition(ids.pong) });
      await post('/api/v1/agents', { id: ids.pong, name: ids.pong, ...definition(ids.ping) });
      await post(`/api/v1/agents/${ids.ping}/messages`, { content: 'serve' });
      const refused = await eventually(`the refused decision of chain ${label}`, async () => {
        const failed = (await decisions(ids.pong)).filter((decision) => decision.status === 'failed');
        return failed.length > 0 ? failed[0] : undefined;
      });
      expect(refused.error).toMatchObject({ code: 'CHAIN_BUDGET_EXCEEDED' });
      return { ...ids, correlationId: refused.correlationId as string };
    };

    const first = await pingPong('a');
    const [firstSeen] = await eventually('the monitor deciding on the first halt', async () => {
      const ledger = await decisions(monitor.id as string);
      return ledger.length > 0 ? ledger : undefined;
    });
    expect(firstSeen).toMatchObject({ status: 'decided', input: { kind: 'event', payload: { type: 'meridian.chain.halted', subject: first.pong } } });
    expect((firstSeen.actions as Json[]).map((action) => (action.action as Json).action)).toEqual(['send-message', 'remember', 'remember']);

    // A second halted chain comes after the first chain's refused decision in the store: once the
    // monitor has decided on it, anything the first chain could have reported has been reported.
    const second = await pingPong('b');
    const ledger = await eventually('the monitor deciding on the second halt', async () => {
      const items = await decisions(monitor.id as string);
      return items.length >= 2 ? items : undefined;
    });
    expect(ledger.map((decision) => ((decision.input as Json).payload as Json).type)).toEqual(['meridian.chain.halted', 'meridian.chain.halted']);
    expect(ledger.map((decision) => ((decision.input as Json).payload as Json).subject)).toEqual([first.pong, second.pong]);
    expect(new Set(ledger.map((decision) => decision.correlationId)).size).toBe(2);

    const halts = await events('meridian.chain.halted');
    const ours = halts.filter((event) => [first.correlationId, second.correlationId].includes((event.data as Json).correlationId as string));
    expect(ours.map((event) => [event.source, event.subject, (event.data as Json).reason, (event.data as Json).limit])).toEqual([
      ['meridian://platform', first.pong, 'max-decisions', 3],
      ['meridian://platform', second.pong, 'max-decisions', 3],
    ]);
    expect((await events('meridian.decision.failed')).filter((event) => [first.pong, second.pong].includes(event.subject as string))).toEqual([]);

    const alerts = await eventually('the on-call agent told twice', async () => {
      const items = await decisions(oncall.id as string);
      return items.length >= 2 ? items : undefined;
    });
    expect(alerts.map((decision) => ((decision.input as Json).payload as Json).content)).toEqual([
      expect.stringContaining(`Chain ${first.correlationId} halted: max-decisions (limit 3, would be 4) at agent ${first.pong}`),
      expect.stringContaining(`Chain ${second.correlationId} halted`),
    ]);
    // What it counted: the halts of each agent (the subject's entity holds its platform events).
    expect((ledger[0].actions as Json[])[1]).toMatchObject({
      status: 'succeeded',
      action: { action: 'remember', key: `incidents:${first.pong}`, value: { count: '1', lastType: 'meridian.chain.halted' } },
    });
  });
});
