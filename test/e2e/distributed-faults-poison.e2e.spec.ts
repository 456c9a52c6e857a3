import { eventually } from './support/eventually';
import { createDeployment, describeDistributed, KAFKA_BROKERS, type AppProcess, type DistributedDeployment } from './support/distributed-processes';
import { InboundProducer, queryStore, sleep, storedCount, structuredCloudEvent } from './support/distributed-faults';

jest.setTimeout(600_000);

interface DeadLetterView {
  id: string;
  topic: string;
  partition: number;
  offset: string;
  consumerGroup: string | null;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  error: { code: string; detail: string };
  attempts: number;
  retriedAt: string | null;
  retryCount: number;
}

/**
 * Poison messages on `<prefix>.inbound`: they go to the dead-letter topic without blocking their
 * partition, operators see them with their error code, and a retry replays the original message —
 * which fails again (a second dead letter) when the message itself is bad, and is stored once when
 * the failure was the store's and has been fixed.
 */
describeDistributed()('distributed faults: poison messages on the inbound topic', () => {
  let deployment: DistributedDeployment;
  let gateway: AppProcess;
  let producer: InboundProducer;

  beforeAll(async () => {
    // Few, short retries: a message the store rejects is dead-lettered within seconds.
    deployment = await createDeployment('fault_poison', { MERIDIAN_KAFKA_MAX_ATTEMPTS: '3', MERIDIAN_KAFKA_RETRY_BASE_DELAY_MS: '50' });
    [, , gateway] = await Promise.all([deployment.start('projector'), deployment.start('runtime'), deployment.start('gateway')]);
    producer = await InboundProducer.connect(KAFKA_BROKERS);
  }, 180_000);

  afterAll(async () => {
    await producer?.close();
    await deployment?.close();
  }, 60_000);

  const inbound = () => `${deployment.topicPrefix}.inbound`;
  const deadLetters = async (): Promise<DeadLetterView[]> => {
    const response = await deployment.request(gateway, '/api/v1/admin/dead-letters?limit=500');
    expect(response.status).toBe(200);
    return ((await response.json()) as { items: DeadLetterView[] }).items;
  };
  const subjectTypes = async (subject: string): Promise<string[]> =>
    ((await (await deployment.request(gateway, `/api/v1/events?subject=${subject}`)).json()) as { items: { id: string }[] }).items.map((item) => item.id);

  it('an invalid CloudEvent and a non-JSON value do not block their partition, are listed with their error code, and a retry of a bad message dead-letters it again', async () => {
    const invalid = JSON.stringify({ specversion: '1.0', source: 'urn:shop', type: 'order.placed', subject: 'poison' });
    await producer.send(inbound(), [
      { key: 'poison', value: invalid, headers: { 'content-type': 'application/cloudevents+json' } },
      { key: 'poison', value: 'this is not JSON {' },
      structuredCloudEvent({ id: 'after-poison', source: 'urn:shop', type: 'order.placed', subject: 'poison', data: { amount: 1 } }),
    ]);

    // The valid message behind the two bad ones on the same partition is stored.
    expect(await eventually('the valid message stored', async () => ((await subjectTypes('poison')).length > 0 ? subjectTypes('poison') : undefined), { timeoutMs: 60_000, intervalMs: 200 })).toEqual(['after-poison']);

    const [bad, notJson] = await eventually('both dead letters listed', async () => {
      const items = await deadLetters();
      return items.length >= 2 ? items : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    const common = { topic: inbound(), consumerGroup: `${deployment.topicPrefix}.runtime.inbound`, key: 'poison', retriedAt: null, retryCount: 0 };
    expect(bad).toMatchObject({ ...common, value: invalid, error: { code: 'INVALID_CLOUD_EVENT' } });
    expect(bad?.error.detail).toMatch(/id/);
    expect(notJson).toMatchObject({ ...common, value: 'this is not JSON {', error: { code: 'MALFORMED_JSON' } });
    // In partition order, one after the other.
    expect(notJson?.partition).toBe(bad?.partition);
    expect(BigInt(String(notJson?.offset))).toBe(BigInt(String(bad?.offset)) + 1n);

    // A retry replays the original message: still invalid, so it is dead-lettered again, as a second
    // entry that says which dead letter it retried; the first one records the retry.
    const retried = await deployment.request(gateway, `/api/v1/admin/dead-letters/${bad?.id}/retry`, { method: 'POST' });
    expect(retried.status).toBe(202);
    expect(await retried.json()).toMatchObject({ id: bad?.id, retryCount: 1, retriedAt: expect.any(String) });
    const again = await eventually('the retried message dead-lettered again', async () => {
      const items = await deadLetters();
      return items.length >= 3 ? items : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    expect(again).toHaveLength(3);
    expect(again[0]).toMatchObject({ id: bad?.id, retryCount: 1 });
    expect(again[2]).toMatchObject({ ...common, value: invalid, error: { code: 'INVALID_CLOUD_EVENT' }, headers: { 'meridian-retry-of': bad?.id } });
    expect(again[2]?.id).not.toBe(bad?.id);
    expect(await storedCount(deployment.schema, 'order.placed')).toBe(1);

    const missing = await deployment.request(gateway, '/api/v1/admin/dead-letters/0-999999/retry', { method: 'POST' });
    expect(missing.status).toBe(404);
  });

  it('a valid event the store rejected is dead-lettered alone, and once the store accepts it again a retry stores it exactly once', async () => {
    const before = (await deadLetters()).length;
    // The fault: the event store rejects one event type (as a faulty migration or trigger would).
    await queryStore(deployment.schema, "alter table events add constraint fault_no_blocked check (type <> 'order.blocked')");
    try {
      await producer.send(inbound(), [
        structuredCloudEvent({ id: 'ok-1', source: 'urn:shop', type: 'order.placed', subject: 'blocked', data: {} }),
        structuredCloudEvent({ id: 'blocked-1', source: 'urn:shop', type: 'order.blocked', subject: 'blocked', data: {} }),
        structuredCloudEvent({ id: 'ok-2', source: 'urn:shop', type: 'order.placed', subject: 'blocked', data: {} }),
      ]);
      const [rejected] = await eventually('the rejected event dead-lettered', async () => {
        const items = await deadLetters();
        return items.length > before ? items.slice(before) : undefined;
      }, { timeoutMs: 120_000, intervalMs: 200 });
      // Only the event the store refused: its neighbours in the batch were stored one by one.
      expect(await eventually('its neighbours stored', async () => ((await subjectTypes('blocked')).length >= 2 ? subjectTypes('blocked') : undefined), { timeoutMs: 60_000, intervalMs: 200 })).toEqual(['ok-1', 'ok-2']);
      // The code is the store's own: PostgreSQL's SQLSTATE for a check violation.
      expect(rejected).toMatchObject({ topic: inbound(), key: 'blocked', attempts: 3, retryCount: 0, error: { code: '23514' } });
      expect(rejected?.error.detail).toMatch(/fault_no_blocked/);
      expect(JSON.parse(String(rejected?.value))).toMatchObject({ id: 'blocked-1', type: 'order.blocked' });
    } finally {
      await queryStore(deployment.schema, 'alter table events drop constraint if exists fault_no_blocked');
    }

    // Fixed: the retry is stored, once; a second retry of the same dead letter is a duplicate.
    const [rejected] = (await deadLetters()).slice(before);
    for (let i = 0; i < 2; i += 1) {
      const retried = await deployment.request(gateway, `/api/v1/admin/dead-letters/${rejected?.id}/retry`, { method: 'POST' });
      expect(retried.status).toBe(202);
    }
    await eventually('the retried event stored', async () => ((await storedCount(deployment.schema, 'order.blocked')) >= 1 ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    await sleep(2_000);
    expect(await storedCount(deployment.schema, 'order.blocked')).toBe(1);
    expect(await eventually('projected', async () => ((await subjectTypes('blocked')).length >= 3 ? subjectTypes('blocked') : undefined), { timeoutMs: 60_000, intervalMs: 200 })).toEqual(['ok-1', 'ok-2', 'blocked-1']);
    const after = await deadLetters();
    expect(after).toHaveLength(before + 1);
    expect(after[before]).toMatchObject({ id: rejected?.id, retryCount: 2 });
  });
});
