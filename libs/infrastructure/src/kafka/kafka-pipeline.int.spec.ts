/**
 * The Kafka pieces of the distributed mode against the real broker: the relay (store → topics,
 * checkpointed), the batch transport with the inbound handler (CloudEvents in, appended once,
 * poison messages dead-lettered without blocking their partition, offsets committed after the
 * effect), and waiting instead of dead-lettering while the store is down.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type KafkaMessage, type Producer } from 'kafkajs';
import { streamName, type EventStore, type NewEvent } from '@meridian/domain';
import { InMemoryCheckpointStore, IngestEventsService } from '@meridian/agents';
import { describeKafka } from '../../../../test/support/services';
import { InMemoryEventStore } from '../event-store/in-memory-event-store';
import { decodeKafkaCloudEvents } from './cloud-event-kafka.binding';
import { DEAD_LETTER_HEADERS, DeadLetterPublisher } from './dead-letter.publisher';
import { KafkaBatchTransport, type KafkaPartitionBatch } from './kafka-batch.transport';
import { KafkaEventRelay } from './kafka-event.relay';
import { KafkaInboundHandler } from './kafka-inbound.handler';
import { headerText, KAFKA_HEADERS } from './kafka-messages';
import { kafkaTopics, type KafkaTopics } from './kafka-topics';

const brokers = (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',');
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Everything on a topic so far, read by a throwaway consumer group. */
async function readAll(kafka: Kafka, topic: string, expected: number): Promise<{ partition: number; message: KafkaMessage }[]> {
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 50 });
  const seen: { partition: number; message: KafkaMessage }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ partition, message }) => void seen.push({ partition, message }) });
  try {
    await waitFor(`${expected} messages on ${topic}`, () => (seen.length >= expected ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

const cloudEvent = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ specversion: '1.0', id, source: 'urn:test', type: 'order.placed', subject: `order-${id}`, data: { n: id }, ...extra });

/** The runtime's inbound path on its own: the batch transport and the inbound handler over `store`. */
function inboundConsumer(kafka: Kafka, producer: Producer, topics: KafkaTopics, store: EventStore, groupId: string): KafkaBatchTransport {
  const handler = new KafkaInboundHandler({
    inbound: new IngestEventsService(store),
    store,
    decode: (message) => decodeKafkaCloudEvents(message),
    deadLetters: new DeadLetterPublisher(producer, topics.dlq),
    consumerGroup: groupId,
    tenantId: 'default',
    maxAttempts: 2,
    retryBaseDelayMs: 10,
    logger: silent,
  });
  const transport = new KafkaBatchTransport(kafka, [{ pattern: 'inbound', topic: topics.inbound, groupId }], silent, 6_000);
  transport.addHandler('inbound', async (batch: KafkaPartitionBatch) => handler.handle(batch), true);
  return transport;
}

const listening = (transport: KafkaBatchTransport) => new Promise<void>((resolve, reject) => void transport.listen((error) => (error ? reject(error) : resolve())));

describeKafka()('Kafka pipeline (real broker)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let topics: KafkaTopics;

  beforeAll(async () => {
    kafka = new Kafka({ brokers, clientId: 'pipeline-spec', logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
  });

  beforeEach(async () => {
    // A producer per test: kafkajs keeps asking for the metadata of every topic it has written to,
    // and fails once one of them has been deleted (as the previous test's topics are).
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    topics = kafkaTopics(`spec-${randomUUID().slice(0, 8)}`);
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.inbound, numPartitions: 2 },
        { topic: topics.events, numPartitions: 3 },
        { topic: topics.mailbox, numPartitions: 4 },
        { topic: topics.dlq, numPartitions: 1 },
      ],
    });
    // A topic just created may not be known to every metadata request yet.
    await waitFor('topic metadata', async () => {
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: Object.values(topics) });
        return metadata.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)) ? true : undefined;
      } catch {
        return undefined;
      }
    });
  });

  afterEach(async () => {
    await producer.disconnect();
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  });

  afterAll(async () => {
    await admin?.disconnect();
  });

  it('the relay publishes every committed event keyed by stream, and mailbox inputs keyed by agent, then moves its checkpoint', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const event = (type: string, data: unknown = {}): NewEvent => ({ eventId: randomUUID(), type, data, metadata: { occurredAt: new Date().toISOString(), correlationId: 'c', causationId: null, hop: 0, tenantId: 'acme', actor: { kind: 'system', id: 't' }, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
    await store.append(streamName('entity', 'order-1', 'acme'), [event('order.placed'), event('order.paid')], { expected: 'any' });
    await store.append(streamName('mailbox', 'agent-7', 'acme'), [event('mailbox.input-enqueued', { input: { kind: 'event' } })], { expected: 'any' });
    const relay = new KafkaEventRelay({ store, checkpoints, producer, topics, logger: silent });
    await relay.start();
    try {
      await waitFor('relay checkpoint', async () => ((await checkpoints.load('kafka-event-relay')) === 3 ? true : undefined));
    } finally {
      await relay.stop();
    }
    const events = await readAll(kafka, topics.events, 3);
    expect(events).toHaveLength(3);
    const byKey = new Map<string, string[]>();
    for (const { message } of events) byKey.set(message.key?.toString() ?? '', [...(byKey.get(message.key?.toString() ?? '') ?? []), headerText(message.headers, KAFKA_HEADERS.eventType) ?? '']);
    expect(byKey.get('acme/entity-order-1')).toEqual(['order.placed', 'order.paid']);
    for (const { message } of events) {
      expect(headerText(message.headers, KAFKA_HEADERS.eventId)).toBe(JSON.parse(message.value?.toString() ?? '{}').eventId);
      expect(headerText(message.headers, KAFKA_HEADERS.traceparent)).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    }
    const mailbox = await readAll(kafka, topics.mailbox, 1);
    expect(mailbox.map(({ message }) => [message.key?.toString(), headerText(message.headers, KAFKA_HEADERS.agentId)])).toEqual([['acme/agent-7', 'agent-7']]);

    // Started again from its checkpoint, it publishes only what is new.
    await store.append(streamName('entity', 'order-2', 'acme'), [event('order.placed')], { expected: 'any' });
    const again = new KafkaEventRelay({ store, checkpoints, producer, topics, logger: silent });
    await again.start();
    try {
      await waitFor('relay checkpoint 4', async () => ((await checkpoints.load('kafka-event-relay')) === 4 ? true : undefined));
    } finally {
      await again.stop();
    }
    expect(await readAll(kafka, topics.events, 4)).toHaveLength(4);
  });

  it('inbound: valid events are appended once, a poison message goes to the DLQ with its error and does not block its partition, offsets are committed after', async () => {
    const store = new InMemoryEventStore();
    const groupId = `inbound-${randomUUID()}`;
    const run = async (expectedStored: number) => {
      const transport = inboundConsumer(kafka, producer, topics, store, groupId);
      await listening(transport);
      try {
        await waitFor('stored events', async () => ((await store.headPosition()) >= expectedStored ? true : undefined));
        await new Promise((resolve) => setTimeout(resolve, 500));
      } finally {
        await transport.close();
      }
    };
    const send = (key: string, value: string, headers: Record<string, string> = { 'content-type': 'application/cloudevents+json' }) => ({ key, value, headers });
    await producer.send({
      topic: topics.inbound,
      acks: -1,
      messages: [send('k', cloudEvent('1')), send('k', '{not json'), send('k', cloudEvent('2', { specversion: '0.3' })), send('k', cloudEvent('3')), send('k', cloudEvent('1'))],
    });
    await run(2);
    const stored = await store.readAll({ after: 0 });
    expect(stored.map((event) => (event.metadata as { cloudEvent?: { id: string } }).cloudEvent?.id ?? event.type)).toHaveLength(2);
    expect(stored.map((event) => event.type)).toEqual(['order.placed', 'order.placed']);

    const dead = await readAll(kafka, topics.dlq, 2);
    expect(dead.map(({ message }) => headerText(message.headers, DEAD_LETTER_HEADERS.errorCode)).sort()).toEqual(['INVALID_CLOUD_EVENT', 'MALFORMED_JSON']);
    for (const { message } of dead) {
      expect(headerText(message.headers, DEAD_LETTER_HEADERS.topic)).toBe(topics.inbound);
      expect(headerText(message.headers, 'content-type')).toBe('application/cloudevents+json');
      expect(headerText(message.headers, DEAD_LETTER_HEADERS.consumerGroup)).toBe(groupId);
    }

    // The group's committed offsets are past every message: a new member of the group starts after them.
    const offsets = await admin.fetchOffsets({ groupId, topics: [topics.inbound] });
    const committed = offsets[0].partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    expect(committed).toBe(5);
  });

  it('inbound: while the store is down nothing is dead-lettered; the batch is appended once it is back', async () => {
    const inner = new InMemoryEventStore();
    let down = true;
    const store = new Proxy(inner, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (down ? Promise.reject(new Error('connection refused')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    }) as EventStore;
    const groupId = `outage-${randomUUID()}`;
    const transport = inboundConsumer(kafka, producer, topics, store, groupId);
    await producer.send({ topic: topics.inbound, acks: -1, messages: [{ key: 'k', value: cloudEvent('9'), headers: { 'content-type': 'application/cloudevents+json' } }] });
    await listening(transport);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      down = false;
      await waitFor('the event stored after the outage', async () => ((await inner.headPosition()) === 1 ? true : undefined));
    } finally {
      await transport.close();
    }
    const dlq = await admin.fetchTopicOffsets(topics.dlq);
    expect(dlq.reduce((sum, p) => sum + Number(p.high), 0)).toBe(0);
  });
});
