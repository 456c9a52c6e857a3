import { createTestSchema, describePostgres, PG_URL } from '../support/services';
import { cloudEvent, startStandalone, type RunningApp } from './support/standalone-app';

jest.setTimeout(120_000);

/** The same app on the production adapters: PostgreSQL event store and read models. */
describePostgres()('Standalone on PostgreSQL (event store and read models)', () => {
  let api: RunningApp;
  let schema: { schema: string; drop: () => Promise<void> };

  beforeAll(async () => {
    schema = await createTestSchema('e2e_pg');
    api = await startStandalone({
      MERIDIAN_EVENT_STORE: 'postgres',
      MERIDIAN_READ_MODELS: 'postgres',
      MERIDIAN_POSTGRES_URL: PG_URL,
      MERIDIAN_POSTGRES_SCHEMA: schema.schema,
    });
  });
  afterAll(async () => {
    await api.close();
    await schema.drop();
  });

  it('ingests, deduplicates, projects and serves events, entities and agents, with ETags and idempotency', async () => {
    const batch = Array.from({ length: 300 }, (_, i) => cloudEvent(`pg-${i}`, { subject: `pg-subject-${i % 7}`, type: 'pg.event', data: { i } }));
    const first = await api.request('/api/v1/events', { method: 'POST', json: batch });
    expect(first.status).toBe(202);
    const { position } = (await first.json()) as { position: number };
    expect(await (await api.request('/api/v1/events', { method: 'POST', json: batch.slice(0, 10) })).json()).toMatchObject({ accepted: 0, duplicates: 10 });

    const events: Array<{ id: string; position: number }> = [];
    let cursor: string | null = null;
    do {
      const page = (await (await api.request(`/api/v1/events?type=pg.event&limit=100&minPosition=${position}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json()) as {
        items: Array<{ id: string; position: number }>;
        nextCursor: string | null;
      };
      events.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(events.map((e) => e.id)).toEqual(batch.map((e) => e.id));
    expect(await (await api.request(`/api/v1/entities/pg-subject-3?minPosition=${position}`)).json()).toMatchObject({ eventCount: 43, state: { i: 297 } });

    const definition = { name: 'pg-agent', kind: 'custom', engine: { type: 'rules', rules: [{ then: [{ action: 'reply', text: 'hi' }] }] }, tools: ['reply'] };
    const created = await api.request('/api/v1/agents', { method: 'POST', json: definition, headers: { 'idempotency-key': 'pg-key-1' } });
    expect(created.status).toBe(201);
    const agent = (await created.json()) as { id: string };
    const replay = await api.request('/api/v1/agents', { method: 'POST', json: definition, headers: { 'idempotency-key': 'pg-key-1' } });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as { id: string }).id).toBe(agent.id);
    const read = await api.request(`/api/v1/agents/${agent.id}`);
    expect(read.headers.get('etag')).toBe('"0"');
    const stale = await api.request(`/api/v1/agents/${agent.id}/pause`, { method: 'POST', headers: { 'if-match': '"5"' } });
    expect(stale.status).toBe(412);
    expect((await (await api.request('/health/ready')).json()) as { status: string }).toMatchObject({ status: 'ok' });
  });
});
