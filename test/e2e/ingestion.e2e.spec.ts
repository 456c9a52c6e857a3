import { cloudEvent, startStandalone, type RunningApp } from './support/standalone-app';

jest.setTimeout(120_000);

describe('Ingestion over HTTP (standalone)', () => {
  let api: RunningApp;

  beforeAll(async () => {
    api = await startStandalone({ MERIDIAN_MAX_BATCH_EVENTS: '1000', MERIDIAN_MAX_BODY_BYTES: '2000000' });
  });
  afterAll(() => api.close());

  /** Highest position any ingest answered with: reads pass it as minPosition to read their writes. */
  let last = 0;
  const track = async (res: Response): Promise<Record<string, unknown>> => {
    const body = (await res.json()) as Record<string, unknown>;
    if (typeof body.position === 'number') last = Math.max(last, body.position);
    return body;
  };

  const countEvents = async (): Promise<number> => {
    let n = 0;
    let cursor: string | null = null;
    do {
      const res = await api.request(`/api/v1/events?limit=500&minPosition=${last}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      const page = (await res.json()) as { items: unknown[]; nextCursor: string | null };
      n += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    return n;
  };

  describe('authentication', () => {
    it('rejects a request without credentials with 401 problem+json', async () => {
      const res = await fetch(`${api.baseUrl}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cloudEvent(1)) });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    });

    it('rejects an unknown key, and accepts the key as a bearer token', async () => {
      expect((await api.request('/api/v1/events', { headers: { 'x-api-key': 'nope-nope-nope-nope' } })).status).toBe(401);
      expect((await api.request('/api/v1/events', { headers: { authorization: `Bearer ${api.apiKey}` } })).status).toBe(200);
    });
  });

  describe('accepting events', () => {
    it('stores a structured event once and counts a re-send as a duplicate', async () => {
      const event = cloudEvent('single-1', { subject: 'order-single' });
      const first = await api.request('/api/v1/events', { method: 'POST', json: event, headers: { 'content-type': 'application/cloudevents+json' } });
      expect(first.status).toBe(202);
      expect(await track(first)).toMatchObject({ accepted: 1, duplicates: 0 });
      const again = await api.request('/api/v1/events', { method: 'POST', json: event });
      expect(await track(again)).toMatchObject({ accepted: 0, duplicates: 1 });
    });

    it('accepts a batch in batched mode and reports duplicates within it', async () => {
      const batch = [cloudEvent('b-1'), cloudEvent('b-2'), cloudEvent('b-1')];
      const res = await api.request('/api/v1/events', { method: 'POST', json: batch, headers: { 'content-type': 'application/cloudevents-batch+json' } });
      expect(res.status).toBe(202);
      expect(await track(res)).toMatchObject({ accepted: 2, duplicates: 1 });
    });

    it('accepts binary mode: ce-* headers, the body is the data', async () => {
      const res = await api.request('/api/v1/events', {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': 'bin-1', 'ce-source': 'urn:test:binary', 'ce-type': 'sensor.read', 'ce-subject': 'sensor-7', 'ce-region': 'eu', 'content-type': 'application/json' },
        body: JSON.stringify({ celsius: 21.5 }),
      });
      expect(res.status).toBe(202);
      await track(res);
      const events = (await (await api.request(`/api/v1/events?subject=sensor-7&minPosition=${last}`)).json()) as { items: Array<Record<string, unknown>> };
      expect(events.items).toHaveLength(1);
      expect(events.items[0]).toMatchObject({ id: 'bin-1', source: 'urn:test:binary', type: 'sensor.read', subject: 'sensor-7', data: { celsius: 21.5 } });
    });

    it('echoes the caller correlation id, or makes one', async () => {
      const given = await api.request('/api/v1/events', { method: 'POST', json: cloudEvent('corr-1'), headers: { 'x-correlation-id': 'trace-abc-123' } });
      await track(given.clone());
      expect(given.headers.get('x-correlation-id')).toBe('trace-abc-123');
      const made = await api.request('/api/v1/events', { method: 'POST', json: cloudEvent('corr-2') });
      await track(made.clone());
      expect(made.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('bad input gets a clear 4xx and changes nothing', () => {
    // Every row has all five entries: jest-each treats a missing one as a `done` callback.
    const cases: Array<[string, RequestInit & { json?: unknown }, number, string, string | undefined]> = [
      ['malformed JSON', { method: 'POST', body: '{"id": "x", ', headers: { 'content-type': 'application/json' } }, 400, 'MALFORMED_JSON', undefined],
      ['missing id', { method: 'POST', json: { specversion: '1.0', source: 's', type: 't' } }, 400, 'VALIDATION_FAILED', '/id'],
      ['missing source', { method: 'POST', json: { specversion: '1.0', id: '1', type: 't' } }, 400, 'VALIDATION_FAILED', '/source'],
      ['missing type', { method: 'POST', json: { specversion: '1.0', id: '1', source: 's' } }, 400, 'VALIDATION_FAILED', '/type'],
      ['missing specversion', { method: 'POST', json: { id: '1', source: 's', type: 't' } }, 400, 'VALIDATION_FAILED', '/specversion'],
      ['wrong specversion', { method: 'POST', json: { specversion: '0.3', id: '1', source: 's', type: 't' } }, 400, 'VALIDATION_FAILED', '/specversion'],
      ['id of the wrong type', { method: 'POST', json: { specversion: '1.0', id: 5, source: 's', type: 't' } }, 400, 'VALIDATION_FAILED', '/id'],
      ['bad time', { method: 'POST', json: { specversion: '1.0', id: '1', source: 's', type: 't', time: 'yesterday' } }, 400, 'VALIDATION_FAILED', '/time'],
      ['a leap-second time', { method: 'POST', json: { specversion: '1.0', id: '1', source: 's', type: 't', time: '2016-12-31T23:59:60Z' } }, 400, 'VALIDATION_FAILED', '/time'],
      ['unknown field', { method: 'POST', json: { specversion: '1.0', id: '1', source: 's', type: 't', Bogus_Field: 1 } }, 400, 'VALIDATION_FAILED', '/Bogus_Field'],
      ['one bad event in a batch', { method: 'POST', json: [cloudEvent('ok-1'), { specversion: '1.0', source: 's', type: 't' }] }, 400, 'VALIDATION_FAILED', '/1/id'],
      ['an empty batch', { method: 'POST', json: [] }, 400, 'VALIDATION_FAILED', undefined],
      ['a scalar body', { method: 'POST', json: 42 }, 400, 'VALIDATION_FAILED', undefined],
      ['no body', { method: 'POST', headers: { 'content-type': 'application/json' } }, 400, 'VALIDATION_FAILED', undefined],
      ['an unsupported media type', { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', undefined],
      ['a batch over the limit', { method: 'POST', json: Array.from({ length: 1001 }, (_, i) => cloudEvent(`over-${i}`)) }, 413, 'BATCH_TOO_LARGE', undefined],
      ['a body over the limit', { method: 'POST', json: cloudEvent('big', { data: { blob: 'x'.repeat(2_100_000) } }) }, 413, 'PAYLOAD_TOO_LARGE', undefined],
    ];

    it.each(cases)('%s', async (_name, init, status, code, path) => {
      const before = await countEvents();
      const res = await api.request('/api/v1/events', init);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = (await res.json()) as { code: string; status: number; title: string; detail: string; correlationId: string; errors?: Array<{ path: string }> };
      expect(body).toMatchObject({ status, code });
      expect(body.title).toEqual(expect.any(String));
      expect(body.detail).toEqual(expect.any(String));
      expect(body.correlationId).toBe(res.headers.get('x-correlation-id'));
      if (path) expect(body.errors?.map((e) => e.path)).toContain(path);
      expect(await countEvents()).toBe(before);
    });
  });

  describe('Idempotency-Key', () => {
    it('tells binary-mode events apart by their ce-* headers: another event under the same key is 422', async () => {
      const headers = { 'idempotency-key': 'idem-binary-1', 'ce-specversion': '1.0', 'ce-source': 'urn:test:bin', 'ce-type': 'bin.t', 'content-type': 'application/json' };
      const first = await api.request('/api/v1/events', { method: 'POST', body: '{"v":1}', headers: { ...headers, 'ce-id': 'a1' } });
      expect(first.status).toBe(202);
      await track(first);
      const other = await api.request('/api/v1/events', { method: 'POST', body: '{"v":1}', headers: { ...headers, 'ce-id': 'a2' } });
      expect(other.status).toBe(422);
      expect(await other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    });

    it('replays the first response for the same key and body, and refuses another body', async () => {
      const headers = { 'idempotency-key': 'idem-ingest-1' };
      const first = await api.request('/api/v1/events', { method: 'POST', json: cloudEvent('idem-1'), headers });
      const firstBody = await track(first);
      expect(firstBody).toMatchObject({ accepted: 1 });
      const replay = await api.request('/api/v1/events', { method: 'POST', json: cloudEvent('idem-1'), headers });
      expect(replay.status).toBe(202);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(await replay.json()).toEqual(firstBody);
      const other = await api.request('/api/v1/events', { method: 'POST', json: cloudEvent('idem-2'), headers });
      expect(other.status).toBe(422);
      expect(await other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    });
  });

  describe('10,000 events in batches', () => {
    it('are all queryable, in order, with nothing lost or duplicated', async () => {
      const before = await countEvents();
      const ids: string[] = [];
      for (let b = 0; b < 20; b++) {
        const batch = Array.from({ length: 500 }, (_, i) => cloudEvent(`bulk-${b * 500 + i}`, { subject: `bulk-subject-${i % 50}`, type: 'bulk.event' }));
        ids.push(...batch.map((e) => e.id as string));
        const res = await api.request('/api/v1/events', { method: 'POST', json: batch });
        expect(res.status).toBe(202);
        expect(await track(res)).toMatchObject({ accepted: 500, duplicates: 0 });
      }
      const seen: Array<{ id: string; position: number }> = [];
      let cursor: string | null = null;
      do {
        const res = await api.request(`/api/v1/events?type=bulk.event&limit=500&minPosition=${last}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        const page = (await res.json()) as { items: Array<{ id: string; position: number }>; nextCursor: string | null };
        seen.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen.map((e) => e.id)).toEqual(ids);
      for (let i = 1; i < seen.length; i++) expect(seen[i].position).toBeGreaterThan(seen[i - 1].position);
      expect(await countEvents()).toBe(before + 10_000);
      const entity = await (await api.request(`/api/v1/entities/bulk-subject-7?minPosition=${last}`)).json();
      expect(entity).toMatchObject({ subject: 'bulk-subject-7', eventCount: 200 });
    });
  });
});
