import { cloudEvent, startStandalone, type RunningApp } from './support/standalone-app';

jest.setTimeout(180_000);

interface Status {
  name: string;
  version: number;
  activeVersion: number;
  checkpoint: number;
  head: number;
  state: string;
  rebuild?: { targetVersion: number; position: number; head: number; eventsPerSecond: number; etaSeconds: number | null };
}

/** A rebuild from position 0 gives read models identical to the live ones, and reports progress. */
describe('Projection rebuild over HTTP (standalone)', () => {
  let api: RunningApp;

  beforeAll(async () => {
    api = await startStandalone();
  });
  afterAll(() => api.close());

  const dumpEvents = async (minPosition: number): Promise<unknown[]> => {
    const items: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await api.request(`/api/v1/events?limit=500&minPosition=${minPosition}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json()) as {
        items: unknown[];
        nextCursor: string | null;
      };
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  };

  const status = async (): Promise<Status[]> => ((await (await api.request('/api/v1/admin/projections')).json()) as { items: Status[] }).items;

  it('rebuilds events, entities and agents while ingestion continues, and the rebuilt models equal the live ones', async () => {
    let last = 0;
    for (let b = 0; b < 10; b++) {
      const batch = Array.from({ length: 500 }, (_, i) => cloudEvent(`r-${b}-${i}`, { subject: `thing-${i % 37}`, type: 'thing.changed', data: { b, i, [`k${i % 5}`]: b } }));
      const res = await api.request('/api/v1/events', { method: 'POST', json: batch });
      last = Math.max(last, ((await res.json()) as { position: number }).position);
    }
    const agent = await api.request('/api/v1/agents', {
      method: 'POST',
      json: { name: 'rebuilt', kind: 'custom', engine: { type: 'rules', rules: [{ then: [{ action: 'reply', text: 'hi' }] }] }, tools: ['reply'] },
    });
    const agentBody = (await agent.json()) as { id: string };
    const before = { events: await dumpEvents(last), entity: await (await api.request(`/api/v1/entities/thing-5?minPosition=${last}`)).json(), agent: await (await api.request(`/api/v1/agents/${agentBody.id}`)).json() };

    const started = await Promise.all(['events', 'entities', 'agents'].map((name) => api.request(`/api/v1/admin/projections/${name}/rebuild`, { method: 'POST' })));
    for (const res of started) {
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ targetVersion: 2 });
    }
    const twice = await api.request('/api/v1/admin/projections/events/rebuild', { method: 'POST' });
    expect([202, 409]).toContain(twice.status); // 409 while the first is still running; 202 if it already switched

    // Keep ingesting during the rebuild: the live version must go on serving and the new one must catch up.
    const more = Array.from({ length: 300 }, (_, i) => cloudEvent(`during-${i}`, { subject: `thing-${i % 37}`, type: 'thing.changed', data: { during: i } }));
    last = Math.max(last, ((await (await api.request('/api/v1/events', { method: 'POST', json: more })).json()) as { position: number }).position);

    for (let attempt = 0; attempt < 600; attempt++) {
      const s = await status();
      const done = ['events', 'entities', 'agents'].every((name) => {
        const p = s.find((x) => x.name === name);
        return p !== undefined && p.activeVersion >= 2 && !p.rebuild && p.checkpoint >= last;
      });
      if (done) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = await status();
    for (const name of ['events', 'entities', 'agents']) expect(after.find((p) => p.name === name)).toMatchObject({ activeVersion: expect.any(Number), state: 'live' });
    expect(after.find((p) => p.name === 'events')!.activeVersion).toBeGreaterThanOrEqual(2);

    const rebuiltEvents = await dumpEvents(last);
    const live = before.events.concat(rebuiltEvents.slice(before.events.length));
    expect(rebuiltEvents).toEqual(live);
    expect(rebuiltEvents).toHaveLength(before.events.length + 300);
    const entity = (await (await api.request(`/api/v1/entities/thing-5?minPosition=${last}`)).json()) as { eventCount: number };
    expect(entity.eventCount).toBe((before.entity as { eventCount: number }).eventCount + more.filter((e) => e.subject === 'thing-5').length);
    expect(await (await api.request(`/api/v1/agents/${agentBody.id}`)).json()).toEqual(before.agent);
  });

  it('refuses an unknown projection with 404 problem+json', async () => {
    const res = await api.request('/api/v1/admin/projections/nope/rebuild', { method: 'POST' });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  });
});
