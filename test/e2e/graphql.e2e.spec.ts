import { randomUUID } from 'node:crypto';
import { DEFAULT_TENANT_ID, EVENT_STORE, SYSTEM_ACTOR, streamName, type EventStore } from '@meridian/domain';
import { API_KEY_SERVICE, hashApiKey, type ApiKeyService } from '@meridian/infrastructure/auth/api-key.service';
import type { Role } from '@meridian/infrastructure/auth/principal';
import { cloudEvent, startStandalone, type RunningApp } from './support/standalone-app';

jest.setTimeout(120_000);

type Json = Record<string, unknown>;

interface GraphqlResponse<T = Json> {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: { data?: T | null; errors?: { message: string; path?: string[]; extensions?: Json }[] };
}

describe('GraphQL read side (standalone)', () => {
  let api: RunningApp;
  /** Highest position an ingest answered with. */
  let ingestedAt = 0;
  const runId = randomUUID().slice(0, 8);
  const placedA = `${runId}-a`;
  const placedB = `${runId}-b`;

  async function graphql<T = Json>(query: string, variables: Json = {}, headers?: Record<string, string>): Promise<GraphqlResponse<T>> {
    const res = await api.request('/graphql', { method: 'POST', json: { query, variables }, ...(headers ? { headers } : {}) });
    return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as GraphqlResponse<T>['body'] };
  }

  /** A successful operation: 200, no errors; returns `data`. */
  async function query<T = Json>(text: string, variables: Json = {}): Promise<T> {
    const res = await graphql<T>(text, variables);
    expect({ status: res.status, errors: res.body.errors }).toEqual({ status: 200, errors: undefined });
    return res.body.data as T;
  }

  async function ingest(events: Json[]): Promise<number> {
    const res = await api.request('/api/v1/events', { method: 'POST', json: events });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; position: number };
    expect(body.accepted).toBe(events.length);
    ingestedAt = Math.max(ingestedAt, body.position);
    return body.position;
  }

  beforeAll(async () => {
    api = await startStandalone();
    await ingest([
      cloudEvent(placedA, { type: 'order.placed', subject: `order-${placedA}`, data: { amount: 10, status: 'placed' } }),
      cloudEvent(`${placedA}-shipped`, { type: 'order.shipped', subject: `order-${placedA}`, data: { status: 'shipped', carrier: 'dhl' } }),
      cloudEvent(placedB, { type: 'order.placed', subject: `order-${placedB}`, data: { amount: 20, status: 'placed' } }),
      cloudEvent(`${runId}-signup`, { type: 'customer.signed-up', subject: `customer-${runId}`, data: { plan: 'pro' } }),
    ]);
  });
  afterAll(() => api.close());

  it('publishes the read side through introspection: the root fields of API.md and their arguments', async () => {
    const data = await query<{ __schema: { queryType: { fields: { name: string; args: { name: string }[] }[] } } }>(`{ __schema { queryType { fields { name args { name } } } } }`);
    const fields = Object.fromEntries(data.__schema.queryType.fields.map((f) => [f.name, f.args.map((a) => a.name).sort()]));
    expect(fields).toEqual({
      agents: ['cursor', 'limit', 'minPosition', 'status'],
      agent: ['id', 'minPosition'],
      conversations: ['cursor', 'limit', 'minPosition'],
      conversation: ['id', 'minPosition'],
      triggers: ['agentId', 'cursor', 'includeDeleted', 'limit', 'minPosition'],
      trigger: ['id', 'minPosition'],
      events: ['cursor', 'filter', 'limit', 'minPosition'],
      entity: ['minPosition', 'subject'],
      chain: ['correlationId', 'minPosition'],
      projections: [],
    });
  });

  describe('events and entities', () => {
    it('lists ingested events of a type in global order, with the CloudEvent fields and positions', async () => {
      const data = await query<{ events: { items: Json[]; nextCursor: string | null } }>(
        `query Placed($min: SafeInt) {
           events(filter: { type: "order.placed" }, minPosition: $min) {
             items { position eventId id source type subject data extensions tenantId recordedAt }
             nextCursor
           }
         }`,
        { min: ingestedAt },
      );
      expect(data.events.items).toEqual([
        expect.objectContaining({ id: placedA, type: 'order.placed', subject: `order-${placedA}`, source: 'urn:test:shop', data: { amount: 10, status: 'placed' }, extensions: {} }),
        expect.objectContaining({ id: placedB, type: 'order.placed', subject: `order-${placedB}`, data: { amount: 20, status: 'placed' } }),
      ]);
      const [a, b] = data.events.items as { position: number; eventId: string; tenantId: string }[];
      expect(a.position).toBeLessThan(b.position);
      expect(b.position).toBeLessThanOrEqual(ingestedAt);
      expect(a.eventId).toEqual(expect.any(String));
      expect(a.tenantId).toEqual(expect.any(String));
      expect(data.events.nextCursor).toBeNull();
    });

    it('filters by type prefix and subject, and pages with limit and cursor', async () => {
      const firstPage = await query<{ events: { items: { id: string }[]; nextCursor: string | null } }>(
        `query($min: SafeInt) { events(filter: { type: "order.*" }, limit: 2, minPosition: $min) { items { id } nextCursor } }`,
        { min: ingestedAt },
      );
      expect(firstPage.events.items.map((e) => e.id)).toEqual([placedA, `${placedA}-shipped`]);
      expect(firstPage.events.nextCursor).toEqual(expect.any(String));
      const secondPage = await query<{ events: { items: { id: string }[]; nextCursor: string | null } }>(
        `query($cursor: String) { events(filter: { type: "order.*" }, limit: 2, cursor: $cursor) { items { id } nextCursor } }`,
        { cursor: firstPage.events.nextCursor },
      );
      expect(secondPage.events).toEqual({ items: [{ id: placedB }], nextCursor: null });

      const bySubject = await query<{ events: { items: { type: string }[] } }>(`query($s: String) { events(filter: { subject: $s }) { items { type } } }`, { s: `order-${placedA}` });
      expect(bySubject.events.items.map((e) => e.type)).toEqual(['order.placed', 'order.shipped']);
    });

    it("folds an entity's events into its state, with counts and its own events", async () => {
      const data = await query<{ entity: Json }>(
        `query($subject: String!, $min: SafeInt) {
           entity(subject: $subject, minPosition: $min) {
             subject state eventCount typeCounts lastEventType lastPosition firstSeen lastSeen
             events(limit: 10) { items { type data } nextCursor }
           }
         }`,
        { subject: `order-${placedA}`, min: ingestedAt },
      );
      expect(data.entity).toEqual({
        subject: `order-${placedA}`,
        state: { amount: 10, status: 'shipped', carrier: 'dhl' },
        eventCount: 2,
        typeCounts: { 'order.placed': 1, 'order.shipped': 1 },
        lastEventType: 'order.shipped',
        lastPosition: expect.any(Number),
        firstSeen: expect.any(String),
        lastSeen: expect.any(String),
        events: {
          items: [
            { type: 'order.placed', data: { amount: 10, status: 'placed' } },
            { type: 'order.shipped', data: { status: 'shipped', carrier: 'dhl' } },
          ],
          nextCursor: null,
        },
      });
    });

    it('answers null for a subject nothing was ingested for', async () => {
      expect(await query(`{ entity(subject: "no-such-subject-${runId}") { subject } }`)).toEqual({ entity: null });
    });

    it('reads its own write: minPosition waits for the events read model', async () => {
      const position = await ingest([cloudEvent(`${runId}-late`, { type: 'order.cancelled', subject: `order-${placedB}` })]);
      const data = await query<{ events: { items: { id: string; position: number }[] } }>(
        `query($min: SafeInt) { events(filter: { type: "order.cancelled" }, minPosition: $min) { items { id position } } }`,
        { min: position },
      );
      expect(data.events.items).toEqual([{ id: `${runId}-late`, position }]);
    });
  });

  describe('projections', () => {
    it("reports every projection's state and checkpoint", async () => {
      await query(`query($min: SafeInt) { events(minPosition: $min) { nextCursor } }`, { min: ingestedAt });
      const data = await query<{ projections: { name: string; checkpoint: number; state: string; lag: number; version: number; activeVersion: number }[] }>(
        `{ projections { name version activeVersion checkpoint head lag state rebuild { position } lastError } }`,
      );
      const names = data.projections.map((p) => p.name);
      expect(names).toEqual(expect.arrayContaining(['events', 'entities', 'agents', 'conversations', 'triggers']));
      const events = data.projections.find((p) => p.name === 'events');
      expect(events).toMatchObject({ state: 'live', version: expect.any(Number), activeVersion: expect.any(Number) });
      expect(events?.checkpoint).toBeGreaterThanOrEqual(ingestedAt);
    });
  });

  describe('agents, conversations and triggers', () => {
    let agentId: string;
    let conversationId: string;
    let triggerId: string;
    /** Position of the last conversation message: the conversations read model has it after this. */
    let messagePosition: number;
    let agentMessagePosition: number;

    beforeAll(async () => {
      const agent = await api.request('/api/v1/agents', {
        method: 'POST',
        json: {
          name: `graphql-watcher-${runId}`,
          kind: 'monitor',
          engine: { type: 'rules', rules: [{ name: 'greet', then: [{ action: 'reply', text: 'Hello {{content}}' }] }] },
          tools: ['reply'],
        },
      });
      expect(agent.status).toBe(201);
      agentId = ((await agent.json()) as { id: string }).id;

      const agentMessage = await api.request(`/api/v1/agents/${agentId}/messages`, { method: 'POST', json: { content: 'status report, please' } });
      expect(agentMessage.status).toBe(202);
      agentMessagePosition = ((await agentMessage.json()) as { position: number }).position;

      const conversation = await api.request('/api/v1/conversations', { method: 'POST', json: { agentIds: [agentId], title: 'Late orders' } });
      expect(conversation.status).toBe(201);
      conversationId = ((await conversation.json()) as { id: string }).id;
      const message = await api.request(`/api/v1/conversations/${conversationId}/messages`, { method: 'POST', json: { content: 'Where is order 42?' } });
      expect(message.status).toBe(202);
      messagePosition = ((await message.json()) as { position: number }).position;

      const trigger = await api.request('/api/v1/triggers', {
        method: 'POST',
        json: {
          name: `unshipped-${runId}`,
          agentId,
          condition: { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT2H', per: 'subject' },
          action: { kind: 'wake-agent', task: 'Order {{subject}} has not shipped' },
          cooldown: 'PT10M',
        },
      });
      expect(trigger.status).toBe(201);
      triggerId = ((await trigger.json()) as { id: string }).id;
    });

    it('reads an agent and lists it among the agents', async () => {
      const data = await query<{ agent: Json; agents: { items: { id: string }[]; nextCursor: string | null } }>(
        `query($id: ID!, $min: SafeInt) {
           agent(id: $id, minPosition: $min) {
             id name kind status definitionVersion revision messageCount definition memory lastPosition
             decisions { items { decisionId } nextCursor }
           }
           agents(limit: 500, minPosition: $min) { items { id } nextCursor }
         }`,
        { id: agentId, min: agentMessagePosition },
      );
      expect(data.agent).toMatchObject({
        id: agentId,
        name: `graphql-watcher-${runId}`,
        kind: 'monitor',
        status: 'active',
        definitionVersion: 1,
        messageCount: 1,
        definition: expect.objectContaining({ name: `graphql-watcher-${runId}` }),
        decisions: { items: expect.any(Array), nextCursor: null },
      });
      expect(data.agent.lastPosition).toBeGreaterThanOrEqual(agentMessagePosition);
      expect(data.agents.items.map((a) => a.id)).toContain(agentId);
    });

    it('answers null for an agent that does not exist, and filters the list by status', async () => {
      const data = await query<{ agent: Json | null; paused: { items: { id: string }[] } }>(`query($id: ID!) { agent(id: $id) { id } paused: agents(status: [paused]) { items { id } } }`, { id: randomUUID() });
      expect(data.agent).toBeNull();
      expect(data.paused.items.map((a) => a.id)).not.toContain(agentId);
    });

    it('reads a conversation with its messages and lists it', async () => {
      const data = await query<{ conversation: Json; conversations: { items: { id: string; title: string | null }[] } }>(
        `query($id: ID!, $min: SafeInt) {
           conversation(id: $id, minPosition: $min) {
             id title status agentIds messageCount pendingApprovals { approvalId } approvals { approvalId }
             messages { items { kind content position } nextCursor }
           }
           conversations(limit: 500) { items { id title } }
         }`,
        { id: conversationId, min: messagePosition },
      );
      expect(data.conversation).toMatchObject({
        id: conversationId,
        title: 'Late orders',
        status: 'open',
        agentIds: [agentId],
        pendingApprovals: [],
        approvals: [],
        messages: { items: expect.arrayContaining([{ kind: 'message', content: 'Where is order 42?', position: messagePosition }]), nextCursor: null },
      });
      expect(data.conversations.items).toContainEqual({ id: conversationId, title: 'Late orders' });
    });

    it('reads a trigger with its definition and firings, and lists it by agent', async () => {
      const data = await query<{ trigger: Json; triggers: { items: { id: string }[] } }>(
        `query($id: ID!, $agentId: ID) {
           trigger(id: $id) { id agentId name enabled deleted firingCount definition firings { items { firingId } nextCursor } }
           triggers(agentId: $agentId) { items { id } }
         }`,
        { id: triggerId, agentId },
      );
      expect(data.trigger).toMatchObject({
        id: triggerId,
        agentId,
        name: `unshipped-${runId}`,
        enabled: true,
        deleted: false,
        firingCount: 0,
        definition: expect.objectContaining({ condition: expect.objectContaining({ kind: 'absence' }) }),
        firings: { items: [], nextCursor: null },
      });
      expect(data.triggers.items).toEqual([{ id: triggerId }]);
    });
  });

  describe('tenants and roles', () => {
    /**
     * Issues a key the way the key service records one (an `api-key.issued` event), then waits until
     * the running service has followed it.
     */
    async function issueKey(tenantId: string, role: Role): Promise<string> {
      const key = `mk_test_${randomUUID()}`;
      const keyId = `graphql-${role}-${randomUUID().slice(0, 8)}`;
      const store = api.app.get<EventStore>(EVENT_STORE, { strict: false });
      await store.append(
        streamName('apikey', keyId, tenantId),
        [
          {
            eventId: randomUUID(),
            type: 'api-key.issued',
            data: { keyId, name: `graphql e2e ${role}`, role, tenantId, sha256: hashApiKey(key), hint: key.slice(0, 6) },
            metadata: { occurredAt: new Date().toISOString(), correlationId: keyId, causationId: null, hop: 0, tenantId, actor: SYSTEM_ACTOR },
          },
        ],
        { expected: 'no_stream' },
      );
      const keys = api.app.get<ApiKeyService>(API_KEY_SERVICE, { strict: false });
      while (keys.authenticate(key) === null) await new Promise((resolve) => setTimeout(resolve, 10));
      return key;
    }

    it('keeps projection status to admins and operators, as REST does: a viewer gets FORBIDDEN', async () => {
      const viewer = await issueKey(DEFAULT_TENANT_ID, 'viewer');
      const denied = await graphql(`{ projections { name } }`, {}, { 'x-api-key': viewer });
      expect(denied.body.data).toBeNull();
      expect(denied.body.errors?.map((e) => e.extensions)).toEqual([expect.objectContaining({ code: 'FORBIDDEN', status: 403 })]);
      const reads = await graphql<{ events: { items: { id: string }[] } }>(`query($min: SafeInt) { events(filter: { type: "order.placed" }, minPosition: $min) { items { id } } }`, { min: ingestedAt }, { 'x-api-key': viewer });
      expect(reads.body.errors).toBeUndefined();
      expect(reads.body.data?.events.items.map((e) => e.id)).toEqual(expect.arrayContaining([placedA, placedB]));
    });

    it("answers from the caller's tenant only", async () => {
      const tenantId = `tenant-${runId}`;
      const other = await issueKey(tenantId, 'admin');
      const res = await api.request('/api/v1/events', { method: 'POST', json: [cloudEvent(`${runId}-other`, { type: 'order.placed', subject: `order-${placedA}` })], headers: { 'x-api-key': other } });
      expect(res.status).toBe(202);
      const { position } = (await res.json()) as { position: number };
      const seen = await graphql<{ events: { items: { id: string; tenantId: string }[] }; entity: { eventCount: number; tenantId: string } | null }>(
        `query($min: SafeInt, $subject: String!) {
           events(filter: { type: "order.placed" }, minPosition: $min) { items { id tenantId } }
           entity(subject: $subject, minPosition: $min) { eventCount tenantId }
         }`,
        { min: position, subject: `order-${placedA}` },
        { 'x-api-key': other },
      );
      expect(seen.body.errors).toBeUndefined();
      expect(seen.body.data).toEqual({ events: { items: [{ id: `${runId}-other`, tenantId }] }, entity: { eventCount: 1, tenantId } });
    });
  });

  describe('errors', () => {
    it('refuses a request without credentials: UNAUTHENTICATED and no data', async () => {
      const res = await fetch(`${api.baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `{ events { items { id } } }` }),
      });
      const body = (await res.json()) as GraphqlResponse['body'];
      expect(res.status).toBe(200);
      expect(body.data).toBeNull();
      expect(body.errors).toEqual([expect.objectContaining({ path: ['events'], extensions: expect.objectContaining({ code: 'UNAUTHENTICATED', status: 401 }) })]);
    });

    it('refuses an unknown key: INVALID_CREDENTIALS', async () => {
      const res = await graphql(`{ projections { name } }`, {}, { 'x-api-key': 'not-a-key-not-a-key' });
      expect(res.body.data).toBeNull();
      expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['INVALID_CREDENTIALS']);
    });

    it('accepts the key as a bearer token', async () => {
      const res = await graphql<{ projections: unknown[] }>(`{ projections { name } }`, {}, { authorization: `Bearer ${api.apiKey}` });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.projections.length).toBeGreaterThan(0);
    });

    it('rejects a query that asks for a field the schema does not have with 400', async () => {
      const res = await graphql(`{ events { items { id noSuchField } } }`);
      expect(res.status).toBe(400);
      expect(res.body.data).toBeUndefined();
      expect(res.body.errors).toEqual([expect.objectContaining({ message: expect.stringContaining('noSuchField'), extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }) })]);
    });

    it('reports a bad cursor with the same code as REST', async () => {
      const res = await graphql(`{ events(cursor: "not-a-cursor") { items { id } } }`);
      expect(res.status).toBe(200);
      expect(res.body.errors).toEqual([expect.objectContaining({ path: ['events'], extensions: expect.objectContaining({ code: 'INVALID_CURSOR', status: 400 }) })]);
    });

    it('rejects a position beyond 2^53 - 1 as a bad variable', async () => {
      const res = await graphql(`query($min: SafeInt) { events(minPosition: $min) { nextCursor } }`, { min: 2 ** 53 });
      expect(res.status).toBe(400);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('answers malformed JSON with 400 problem+json before GraphQL sees it', async () => {
      const res = await api.request('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(await res.json()).toMatchObject({ code: 'MALFORMED_JSON' });
    });
  });
});
