import { signWebhook } from '../../apps/gateway/src/webhooks/webhook-signature';
import { startStandalone, type RunningApp } from './support/standalone-app';

jest.setTimeout(60_000);

const SECRET = 'whsec_test_0123456789abcdef';

describe('Webhooks (standalone)', () => {
  let api: RunningApp;

  beforeAll(async () => {
    api = await startStandalone({ MERIDIAN_WEBHOOK_SECRETS: `shop=${SECRET}` });
  });
  afterAll(() => api.close());

  const post = (source: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${api.baseUrl}/api/v1/webhooks/${source}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('accepts a signed payload (no API key needed), maps it to a CloudEvent, and counts a re-delivery as a duplicate', async () => {
    const body = JSON.stringify({ id: 'evt_1', type: 'order.paid', subject: 'order-9', amount: 42 });
    const first = await post('shop', body, { 'x-meridian-signature': signWebhook(SECRET, body) });
    expect(first.status).toBe(202);
    const { accepted, position } = (await first.json()) as { accepted: number; position: number };
    expect(accepted).toBe(1);
    const again = await post('shop', body, { 'x-meridian-signature': signWebhook(SECRET, body) });
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 1 });

    const events = (await (await api.request(`/api/v1/events?subject=order-9&minPosition=${position}`)).json()) as { items: Array<Record<string, unknown>> };
    expect(events.items).toEqual([expect.objectContaining({ id: 'evt_1', source: 'urn:meridian:webhook:shop', type: 'order.paid', subject: 'order-9', data: { id: 'evt_1', type: 'order.paid', subject: 'order-9', amount: 42 } })]);
  });

  it('derives the event from the signed body only: unsigned headers cannot forge another event from a captured delivery', async () => {
    const body = JSON.stringify({ total: 7, subject: 'cart-1' });
    const signature = signWebhook(SECRET, body);
    const first = (await (await post('shop', body, { 'x-meridian-signature': signature })).json()) as { accepted: number; position: number };
    expect(first.accepted).toBe(1);
    const replayed = await post('shop', body, { 'x-meridian-signature': signature, 'x-meridian-event-id': 'forged-1', 'x-meridian-event-type': 'order.refunded', 'x-meridian-subject': 'order-999' });
    expect(await replayed.json()).toMatchObject({ accepted: 0, duplicates: 1 });
    const cart = (await (await api.request(`/api/v1/events?subject=cart-1&minPosition=${first.position}`)).json()) as { items: Array<Record<string, unknown>> };
    expect(cart.items).toEqual([expect.objectContaining({ type: 'webhook.shop', subject: 'cart-1', data: { total: 7, subject: 'cart-1' } })]);
    expect(((await (await api.request('/api/v1/events?subject=order-999')).json()) as { items: unknown[] }).items).toEqual([]);
  });

  it('rejects a bad or missing signature with 401 and stores nothing', async () => {
    const body = JSON.stringify({ id: 'evt_forged', subject: 'forged' });
    const forged = await post('shop', body, { 'x-meridian-signature': signWebhook('another-secret-0123456789', body) });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ code: 'INVALID_SIGNATURE' });
    expect((await post('shop', body)).status).toBe(401);
    const tampered = await post('shop', body.replace('forged', 'forgeD'), { 'x-meridian-signature': signWebhook(SECRET, body) });
    expect(tampered.status).toBe(401);
    const events = (await (await api.request('/api/v1/events?subject=forged')).json()) as { items: unknown[] };
    expect(events.items).toEqual([]);
  });

  it('answers 404 for a source with no secret configured', async () => {
    const res = await post('unknown', '{}', { 'x-meridian-signature': signWebhook(SECRET, '{}') });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'WEBHOOK_SOURCE_NOT_FOUND' });
  });
});
