import { randomUUID } from 'node:crypto';
import { EVENT_STORE, streamName, type EventStore, type RecordedEvent } from '@meridian/domain';
import { appendAgentChain, type AgentChain } from '@meridian/infrastructure/read-models/chains/agent-chain.fixture';
import { cloudEvent, startStandalone, type RunningApp } from './support/standalone-app';

jest.setTimeout(120_000);

type Json = Record<string, unknown>;

describe('chains (standalone)', () => {
  let api: RunningApp;
  let root: RecordedEvent;
  let chain: AgentChain;
  /** An ingested event no agent took part in. */
  let bystanderId: string;
  const runId = randomUUID().slice(0, 8);

  async function ingestOne(id: string): Promise<RecordedEvent> {
    const res = await api.request('/api/v1/events', { method: 'POST', json: [cloudEvent(id)] });
    expect(res.status).toBe(202);
    const store = api.app.get<EventStore>(EVENT_STORE, { strict: false });
    const stored = await store.readStream(streamName('entity', `order-${id}`));
    return stored[stored.length - 1];
  }

  async function graphql(query: string, variables: Json = {}, headers?: Record<string, string>): Promise<{ data?: Json | null; errors?: Array<{ path?: string[]; extensions?: Json }> }> {
    const res = await api.request('/graphql', { method: 'POST', json: { query, variables }, ...(headers ? { headers } : {}) });
    expect(res.status).toBe(200);
    return (await res.json()) as { data?: Json | null; errors?: Array<{ path?: string[]; extensions?: Json }> };
  }

  beforeAll(async () => {
    api = await startStandalone();
    root = await ingestOne(`${runId}-placed`);
    bystanderId = (await ingestOne(`${runId}-other`)).eventId;
    // What the agent runtime writes for a chain of two agents, written straight to the app's store.
    chain = await appendAgentChain({ store: api.app.get<EventStore>(EVENT_STORE, { strict: false }), root, agentA: `${runId}-a`, agentB: `${runId}-b`, idPrefix: runId });
  });
  afterAll(() => api.close());

  it('GET /api/v1/chains/:correlationId answers the causation graph, budgets used and the halt', async () => {
    const res = await api.request(`/api/v1/chains/${root.eventId}?minPosition=${chain.lastPosition}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json & { nodes: Json[]; edges: Json[] };
    const agentA = `${runId}-a`;
    const agentB = `${runId}-b`;
    const { ids } = chain;
    expect(body).toMatchObject({
      correlationId: root.eventId,
      root: { id: root.eventId, type: 'order.placed', position: root.position, subject: `order-${runId}-placed` },
      agentIds: [agentA, agentB],
      used: { hops: 2, decisions: 2, tokens: 420 },
      halted: { reason: 'max-decisions', limit: 2, used: 3, agentId: agentA, haltedAt: chain.haltedAt },
      nodeCount: 10,
      truncated: false,
      lastPosition: chain.lastPosition,
    });
    expect((body.used as { costUsd: number }).costUsd).toBeCloseTo(0.007, 10);
    expect(body.nodes.map(({ eventId, causationId, hop, type, agentId }) => ({ eventId, causationId, hop, type, agentId }))).toEqual([
      { eventId: ids.mailboxA, causationId: root.eventId, hop: 0, type: 'mailbox.input-enqueued', agentId: agentA },
      { eventId: ids.decisionA, causationId: ids.mailboxA, hop: 1, type: 'agent.decision-recorded', agentId: agentA },
      { eventId: ids.countA, causationId: ids.decisionA, hop: 1, type: 'chain.decision-counted', agentId: agentA },
      { eventId: ids.sentA, causationId: ids.decisionA, hop: 1, type: 'agent.message-sent', agentId: agentA },
      { eventId: ids.executedA, causationId: ids.decisionA, hop: 1, type: 'agent.action-executed', agentId: agentA },
      { eventId: ids.mailboxB, causationId: ids.sentA, hop: 1, type: 'mailbox.input-enqueued', agentId: agentB },
      { eventId: ids.decisionB, causationId: ids.mailboxB, hop: 2, type: 'agent.decision-recorded', agentId: agentB },
      { eventId: ids.countB, causationId: ids.decisionB, hop: 2, type: 'chain.decision-counted', agentId: agentB },
      { eventId: ids.emittedB, causationId: ids.decisionB, hop: 2, type: 'order.flagged', agentId: agentB },
      { eventId: ids.halted, causationId: ids.emittedB, hop: 2, type: 'chain.halted', agentId: agentA },
    ]);
    expect(body.nodes[0]).toEqual({
      position: expect.any(Number),
      eventId: ids.mailboxA,
      causationId: root.eventId,
      hop: 0,
      type: 'mailbox.input-enqueued',
      streamName: `default/mailbox-${agentA}`,
      agentId: agentA,
      decisionId: null,
      occurredAt: '2026-04-01T12:00:01.000Z',
    });
    const positions = body.nodes.map((node) => node.position as number);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(body.edges).toEqual(body.nodes.map((node) => ({ from: node.causationId, to: node.eventId })));
  });

  it('answers 404 problem+json CHAIN_NOT_FOUND for an unknown id and for an event no agent took part in', async () => {
    for (const id of [`${runId}-nothing`, bystanderId]) {
      const res = await api.request(`/api/v1/chains/${id}?minPosition=${chain.lastPosition}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 404, code: 'CHAIN_NOT_FOUND' });
    }
  });

  it('rejects a bad minPosition with 400 and a request without credentials with 401', async () => {
    const bad = await api.request(`/api/v1/chains/${root.eventId}?minPosition=-1`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');

    const anonymous = await fetch(`${api.baseUrl}/api/v1/chains/${root.eventId}`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('GraphQL chain(correlationId) answers the same chain, null when unknown, UNAUTHENTICATED without credentials', async () => {
    const text = `query($id: String!, $min: SafeInt) {
      chain(correlationId: $id, minPosition: $min) {
        correlationId tenantId
        root { id type position subject }
        nodes { position eventId causationId hop type streamName agentId decisionId occurredAt }
        edges { from to }
        agentIds
        used { hops decisions tokens costUsd }
        halted { reason limit used agentId haltedAt }
        nodeCount truncated firstPosition lastPosition updatedAt
      }
    }`;
    const found = await graphql(text, { id: root.eventId, min: chain.lastPosition });
    expect(found.errors).toBeUndefined();
    const rest = (await (await api.request(`/api/v1/chains/${root.eventId}`)).json()) as Json;
    expect(found.data?.chain).toEqual({ ...rest, tenantId: 'default' });

    const missing = await graphql(text, { id: `${runId}-nothing`, min: chain.lastPosition });
    expect(missing).toEqual({ data: { chain: null } });

    const anonymous = await fetch(`${api.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: text, variables: { id: root.eventId } }),
    });
    const body = (await anonymous.json()) as { data: unknown; errors: Array<{ path?: string[]; extensions?: Json }> };
    // chain is nullable: the refused field is null, and the error says why.
    expect(body.data).toEqual({ chain: null });
    expect(body.errors).toEqual([expect.objectContaining({ path: ['chain'], extensions: expect.objectContaining({ code: 'UNAUTHENTICATED', status: 401 }) })]);
  });
});
