import { cloudEvent, startStandalone, type RunningApp } from './support/standalone-app';
import { eventually } from './support/eventually';

jest.setTimeout(120_000);

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Samples of the Prometheus text format (comments skipped; label values unescaped enough for these tests). */
function parseSamples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
      return { name: match[1], labels, value: Number(match[3]) };
    });
}

/** The value of the series with exactly these labels, or undefined when it is not exposed. */
function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  return samples.find((sample) => sample.name === name && Object.keys(sample.labels).length === wanted.length && wanted.every(([key, value]) => sample.labels[key] === value))?.value;
}

describe('GET /metrics (standalone)', () => {
  let api: RunningApp;

  beforeAll(async () => {
    api = await startStandalone();
  });
  afterAll(async () => {
    await api.close();
  });

  /** Scraped as Prometheus does: no credentials. */
  const scrape = async (): Promise<Sample[]> => {
    const res = await fetch(`${api.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    return parseSamples(await res.text());
  };

  it('is public and answers in the Prometheus text format, with the process metrics', async () => {
    const res = await fetch(`${api.baseUrl}/metrics`);

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('# TYPE meridian_decisions_total counter');
    expect(text).toContain('# TYPE meridian_decision_latency_seconds histogram');
    const samples = parseSamples(text);
    expect(valueOf(samples, 'meridian_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(samples, 'meridian_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(samples.some((sample) => sample.name === 'meridian_nodejs_eventloop_lag_seconds')).toBe(true);
    expect(samples.every((sample) => sample.name.startsWith('meridian_'))).toBe(true);
  });

  it('counts what a rules agent decides and does, ingested events, and HTTP requests by route pattern', async () => {
    const created = await api.request('/api/v1/agents', {
      method: 'POST',
      json: {
        name: 'order-memo',
        kind: 'executor',
        subscriptions: [{ type: 'order.*' }],
        engine: { type: 'rules', rules: [{ then: [{ action: 'remember', key: 'k', value: '{{event.subject}}' }] }] },
        tools: ['remember'],
      },
    });
    expect(created.status).toBe(201);
    const agentId = ((await created.json()) as { id: string }).id;
    const ingested = await api.request('/api/v1/events', { method: 'POST', json: cloudEvent('metrics-1', { subject: 'order-metrics-1' }) });
    expect(ingested.status).toBeLessThan(300);
    expect((await api.request(`/api/v1/agents/${agentId}`)).status).toBe(200);
    expect((await fetch(`${api.baseUrl}/api/v1/agents`)).status).toBe(401);
    expect((await fetch(`${api.baseUrl}/no-such-path/${agentId}`)).status).toBe(404);
    expect((await api.request('/graphql', { method: 'POST', json: { query: '{ agents { items { id } } }' } })).status).toBe(200);

    const samples = await eventually('the decision and its action in the metrics', async () => {
      const current = await scrape();
      return valueOf(current, 'meridian_actions_total', { action: 'remember', outcome: 'succeeded' }) === 1 ? current : undefined;
    });

    expect(valueOf(samples, 'meridian_decisions_total', { engine: 'rules', outcome: 'decided' })).toBe(1);
    expect(valueOf(samples, 'meridian_decision_latency_seconds_count', { engine: 'rules' })).toBe(1);
    expect(valueOf(samples, 'meridian_events_ingested_total')).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'meridian_decision_failures_total')).toBeUndefined();

    expect(valueOf(samples, 'meridian_http_requests_total', { method: 'POST', route: '/api/v1/agents', status: '201' })).toBe(1);
    expect(valueOf(samples, 'meridian_http_requests_total', { method: 'GET', route: '/api/v1/agents/:id', status: '200' })).toBe(1);
    expect(valueOf(samples, 'meridian_http_requests_total', { method: 'GET', route: '/api/v1/agents', status: '401' })).toBe(1);
    expect(valueOf(samples, 'meridian_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(valueOf(samples, 'meridian_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'meridian_http_requests_total', { method: 'POST', route: '/graphql', status: '200' })).toBe(1);
    expect(valueOf(samples, 'meridian_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/agents', status: '201' })).toBe(1);
    // Bounded cardinality: ids in paths never become label values.
    expect(samples.some((sample) => Object.values(sample.labels).some((value) => value.includes(agentId)))).toBe(false);
  });

  it('reports each projection checkpoint and lag, and the store head, as GET /api/v1/admin/projections does', async () => {
    const names = (((await (await api.request('/api/v1/admin/projections')).json()) as { items: { name: string }[] }).items).map((item) => item.name);
    expect(names.length).toBeGreaterThan(0);

    const samples = await eventually('every projection caught up with the head', async () => {
      const current = await scrape();
      return names.every((name) => valueOf(current, 'meridian_projection_lag_events', { projection: name }) === 0) ? current : undefined;
    });

    const head = valueOf(samples, 'meridian_event_store_head_position');
    expect(head).toBeGreaterThan(0);
    for (const name of names) expect(valueOf(samples, 'meridian_projection_checkpoint', { projection: name })).toBeGreaterThan(0);
    expect(Math.max(...names.map((name) => valueOf(samples, 'meridian_projection_checkpoint', { projection: name }) ?? 0))).toBeLessThanOrEqual(head ?? 0);
  });
});
