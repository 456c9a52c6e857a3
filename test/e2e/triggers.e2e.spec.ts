import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './support/eventually';
import { startStandalone, type RunningApp } from './support/standalone-app';
import { killHard, spawnStandalone, type StandaloneProcess } from './support/standalone-process';

jest.setTimeout(180_000);

type Json = Record<string, unknown>;
const KEY = 'triggers-e2e-admin-key-0123456789';

/**
 * The proactive engine as a user meets it over HTTP (README "Triggers"). Windows run on event time
 * (the CloudEvent `time`), so the tests place their events in time instead of waiting for windows;
 * only the kill/restart test lets a few seconds pass, while the process is down.
 */
describe('Triggers (standalone)', () => {
  /** A rules agent that remembers every task it is woken with, under the task's text. */
  const watcher = (id: string) => ({
    id,
    name: id,
    kind: 'monitor',
    subscriptions: [{ type: 'watcher.never' }],
    engine: { type: 'rules', rules: [{ then: [{ action: 'remember', key: '{{message.content}}', value: '{{task.context.subject}}' }] }] },
    tools: ['remember'],
  });
  const iso = (ms: number) => new Date(ms).toISOString();

  describe('absence: order placed but not shipped within 2 minutes, across kill -9', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'meridian-triggers-kill9-'));
    let proc: StandaloneProcess | null = null;
    const env = { MERIDIAN_DATA_DIR: dataDir, MERIDIAN_ADMIN_API_KEY: KEY, MERIDIAN_TRIGGER_TICK_MS: '100', MERIDIAN_TRIGGER_ALLOWED_LATENESS_MS: '1000' };

    afterAll(async () => {
      if (proc) await killHard(proc.child);
      rmSync(dataDir, { recursive: true, force: true });
    });

    const call = async (method: string, path: string, json?: unknown): Promise<{ status: number; body: Json }> => {
      if (proc === null) throw new Error('not running');
      const res = await fetch(proc.baseUrl + path, {
        method,
        headers: { 'x-api-key': KEY, ...(json !== undefined && { 'content-type': 'application/json' }) },
        ...(json !== undefined && { body: JSON.stringify(json) }),
      });
      return { status: res.status, body: (await res.json()) as Json };
    };

    it('wakes the agent for exactly the unshipped orders, once, though the process was killed with the windows open', async () => {
      proc = await spawnStandalone(env);
      expect((await call('POST', '/api/v1/agents', watcher('order-watcher'))).status).toBe(201);
      const trigger = await call('POST', '/api/v1/triggers', {
        name: 'unshipped-orders',
        agentId: 'order-watcher',
        condition: { kind: 'absence', first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT2M', per: 'subject' },
        action: { kind: 'wake-agent', task: 'Order {{subject}} has not shipped' },
      });
      expect(trigger.status).toBe(201);
      const triggerId = trigger.body.id as string;

      // Placed 2 minutes minus 3 seconds ago: the windows close 3 s from now (plus 1 s allowed lateness).
      const placedAt = Date.now() - 2 * 60_000 + 3_000;
      const deadline = placedAt + 2 * 60_000;
      const event = (id: string, type: string, subject: string, time: number) => ({ specversion: '1.0', id, source: 'urn:test:shop', type, subject, time: iso(time) });
      const accepted = await call('POST', '/api/v1/events', [
        event('p1', 'order.placed', 'order-1', placedAt),
        event('p2', 'order.placed', 'order-2', placedAt),
        event('p3', 'order.placed', 'order-3', placedAt),
        event('s2', 'order.shipped', 'order-2', placedAt + 60_000),
      ]);
      expect(accepted.status).toBe(202);
      expect(((await call('GET', `/api/v1/triggers/${triggerId}/firings`)).body.items as Json[]).length).toBe(0);

      await killHard(proc.child);
      proc = null;
      // Down across the deadline (and the allowed lateness, and the engine's 1 s tolerance).
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline + 2_500 - Date.now())));
      proc = await spawnStandalone(env);

      const firings = await eventually(
        'two firings',
        async () => {
          const items = (await call('GET', `/api/v1/triggers/${triggerId}/firings`)).body.items as Json[];
          return items.length >= 2 ? items : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(firings.map((firing) => [firing.subject, firing.late]).sort()).toEqual([
        ['order-1', true],
        ['order-3', true],
      ]);
      expect(firings[0].matchedEvents).toEqual([expect.objectContaining({ type: 'order.placed', subject: firings[0].subject })]);

      // The agent was woken once per unshipped order, with the rendered task and the firing's context.
      const remembered = await eventually(
        'the agent remembers both tasks',
        async () => {
          const history = (await call('GET', '/api/v1/agents/order-watcher/history?limit=200')).body.items as Json[];
          const facts = history.filter((entry) => entry.type === 'agent.memory-updated').map((entry) => entry.data as Json);
          return facts.length >= 2 ? facts : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(remembered.map((fact) => [fact.key, fact.value]).sort()).toEqual([
        ['Order order-1 has not shipped', 'order-1'],
        ['Order order-3 has not shipped', 'order-3'],
      ]);

      // Another restart changes nothing.
      await killHard(proc.child);
      proc = await spawnStandalone(env);
      // The engine's counters are committed with its states: once it has caught up again, they say
      // two firings (whether or not the last commit before the kill had them).
      const view = await eventually('the engine reports both firings', async () => {
        const body = (await call('GET', `/api/v1/triggers/${triggerId}`)).body;
        const stats = (body.evaluation as { stats?: Json } | null)?.stats;
        return stats?.firings === 2 ? body : undefined;
      });
      expect(view.evaluation).toEqual(expect.objectContaining({ stateReason: 'defined', stats: expect.objectContaining({ firings: 2, lateFirings: 2, evaluations: 4 }) }));
      // Ingest something: once the engine has evaluated it, there are still exactly two firings.
      await call('POST', '/api/v1/events', [event('p9', 'order.shipped', 'order-1', Date.now())]);
      await eventually('the engine evaluated the new event', async () => {
        const stats = ((await call('GET', `/api/v1/triggers/${triggerId}`)).body.evaluation as { stats: Json }).stats;
        return stats.evaluations === 5 ? true : undefined;
      });
      expect(((await call('GET', `/api/v1/triggers/${triggerId}/firings`)).body.items as Json[]).length).toBe(2);
      const decisions = (await call('GET', '/api/v1/agents/order-watcher/decisions')).body.items as Json[];
      expect(decisions).toHaveLength(2);
    });
  });

  describe('threshold and schedule (in process)', () => {
    let app: RunningApp;

    beforeAll(async () => {
      app = await startStandalone({ MERIDIAN_TRIGGER_TICK_MS: '50' });
      await app.request('/api/v1/agents', { method: 'POST', json: watcher('ops-watcher') });
    });
    afterAll(async () => {
      await app.close();
    });

    const json = async (path: string, init?: RequestInit & { json?: unknown }): Promise<Json> => (await (await app.request(path, init)).json()) as Json;

    it('fires a threshold once per burst, suppresses a burst within the cooldown, and counts it all per trigger', async () => {
      const created = await app.request('/api/v1/triggers', {
        method: 'POST',
        json: {
          name: 'payment-failures',
          agentId: 'ops-watcher',
          condition: { kind: 'threshold', match: { type: 'payment.failed', filter: { '>=': [{ var: 'data.amount' }, 10] } }, count: 3, within: 'PT1M', per: 'global' },
          action: { kind: 'emit-event', eventType: 'payments.degraded', data: { failures: '{{events.length}}' } },
          cooldown: 'PT10M',
        },
      });
      expect(created.status).toBe(201);
      const triggerId = ((await created.json()) as Json).id as string;
      const start = Date.now() - 60 * 60_000;
      const burst = (name: string, at: number) =>
        Array.from({ length: 5 }, (_, i) => ({ specversion: '1.0', id: `${name}-${i}`, source: 'urn:test:payments', type: 'payment.failed', subject: `payment-${name}-${i}`, time: iso(at + i * 1000), data: { amount: 50 } }));
      // A small failure does not count; three bursts: at 0, at +3 min (cooling down), at +20 min.
      const small = { specversion: '1.0', id: 'small', source: 'urn:test:payments', type: 'payment.failed', subject: 'payment-small', time: iso(start), data: { amount: 1 } };
      expect((await app.request('/api/v1/events', { method: 'POST', json: [small, ...burst('a', start), ...burst('b', start + 3 * 60_000), ...burst('c', start + 20 * 60_000)] })).status).toBe(202);

      // Firings are counted as the engine reads its own trigger.fired events back: wait for all three.
      const view = await eventually('all 16 events evaluated and both firings counted', async () => {
        const body = await json(`/api/v1/triggers/${triggerId}`);
        const stats = (body.evaluation as { stats?: Json } | null)?.stats;
        return stats !== undefined && stats.evaluations === 16 && stats.suppressed === 1 && stats.firings === 2 ? body : undefined;
      });
      expect((view.evaluation as Json).stats).toEqual(expect.objectContaining({ firings: 2, suppressed: 1, lateEvents: 0 }));
      const firings = (await json(`/api/v1/triggers/${triggerId}/firings`)).items as Json[];
      expect(firings.map((firing) => firing.firedAt)).toEqual([iso(start + 2000), iso(start + 20 * 60_000 + 2000)]);
      expect((firings[0].matchedEvents as Json[]).map((matched) => matched.subject)).toEqual(['payment-a-0', 'payment-a-1', 'payment-a-2']);

      // The action: an event in the store, in the chain of the event that completed the burst.
      const degraded = await eventually('the emitted events', async () => {
        const items = (await json('/api/v1/events?type=payments.degraded')).items as Json[];
        return items.length === 2 ? items : undefined;
      });
      expect(degraded[0]).toEqual(expect.objectContaining({ type: 'payments.degraded', data: { failures: '3' } }));

      // GraphQL shows the same.
      const graphql = await json('/graphql', {
        method: 'POST',
        json: { query: 'query($id: ID!) { trigger(id: $id) { evaluation firings { items { subject late firedAt } } } }', variables: { id: triggerId } },
      });
      const gqlTrigger = (graphql.data as { trigger: { evaluation: { stats: Json }; firings: { items: Json[] } } }).trigger;
      expect(gqlTrigger.evaluation.stats).toEqual(expect.objectContaining({ firings: 2, suppressed: 1, evaluations: 16 }));
      expect(gqlTrigger.firings.items).toEqual([
        { subject: null, late: false, firedAt: iso(start + 2000) },
        { subject: null, late: false, firedAt: iso(start + 20 * 60_000 + 2000) },
      ]);

      const metrics = await (await app.request('/metrics')).text();
      expect(metrics).toContain(`meridian_trigger_firings_total{tenant="default",trigger="${triggerId}"} 2`);
      expect(metrics).toContain(`meridian_trigger_suppressed_total{tenant="default",trigger="${triggerId}"} 1`);
      expect(metrics).toContain(`meridian_trigger_evaluations_total{tenant="default",trigger="${triggerId}"} 16`);
    });

    it('takes a changed condition at once, with fresh state, and says so on the trigger', async () => {
      const created = await app.request('/api/v1/triggers', {
        method: 'POST',
        json: {
          name: 'stuck-tickets',
          agentId: 'ops-watcher',
          condition: { kind: 'absence', first: { type: 'ticket.opened' }, then: { type: 'ticket.closed' }, within: 'PT1H' },
          action: { kind: 'wake-agent', task: 'Ticket {{subject}} is stuck' },
        },
      });
      const trigger = (await created.json()) as Json;
      const opened = Date.now() - 3 * 60 * 60_000;
      await app.request('/api/v1/events', { method: 'POST', json: [{ specversion: '1.0', id: 't-1', source: 'urn:test:desk', type: 'ticket.opened', subject: 'ticket-1', time: iso(opened) }] });
      const changed = await app.request(`/api/v1/triggers/${trigger.id as string}`, {
        // No If-Match: a firing (ticket-1's) moves the trigger's revision too.
        method: 'PATCH',
        json: { condition: { kind: 'absence', first: { type: 'ticket.opened' }, then: { type: 'ticket.closed' }, within: 'PT30M' } },
      });
      expect(changed.status).toBe(200);
      const evaluation = await eventually('the engine took the new condition', async () => {
        const body = await json(`/api/v1/triggers/${trigger.id as string}`);
        const current = body.evaluation as Json | null;
        return current?.conditionVersion === 2 ? current : undefined;
      });
      expect(evaluation).toEqual(expect.objectContaining({ stateReason: 'condition-changed' }));
      // ticket-1 opened under the old condition: its window went with it (whichever came first, the
      // firing under the old condition or the change, nothing fires under the new one for it).
      const fresh = await app.request('/api/v1/events', { method: 'POST', json: [{ specversion: '1.0', id: 't-2', source: 'urn:test:desk', type: 'ticket.opened', subject: 'ticket-2', time: iso(opened) }] });
      expect(fresh.status).toBe(202);
      const firings = await eventually('ticket-2 fires under the new condition', async () => {
        const items = (await json(`/api/v1/triggers/${trigger.id as string}/firings`)).items as Json[];
        return items.some((firing) => firing.subject === 'ticket-2') ? items : undefined;
      });
      expect(firings.filter((firing) => firing.definitionVersion === 2).map((firing) => firing.subject)).toEqual(['ticket-2']);
    });

    it('fires a schedule on its cron, each second once', async () => {
      const created = await app.request('/api/v1/triggers', {
        method: 'POST',
        json: { name: 'heartbeat', agentId: 'ops-watcher', condition: { kind: 'schedule', cron: '* * * * * *', timezone: 'Europe/Berlin' }, action: { kind: 'wake-agent', task: 'heartbeat {{firing.firedAt}}' } },
      });
      expect(created.status).toBe(201);
      const triggerId = ((await created.json()) as Json).id as string;
      const firings = await eventually(
        'two scheduled firings',
        async () => {
          const items = (await json(`/api/v1/triggers/${triggerId}/firings`)).items as Json[];
          return items.length >= 2 ? items : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      const times = firings.map((firing) => Date.parse(firing.firedAt as string));
      expect(times.every((time) => time % 1000 === 0)).toBe(true);
      expect(new Set(firings.map((firing) => firing.occurrenceKey)).size).toBe(firings.length);
      expect(times[1] - times[0]).toBe(1000);
    });
  });
});
