/**
 * The Kafka binding against what an external producer really writes: kcat (librdkafka, the
 * Debian package `kcat`) produces to a real broker, kafkajs consumes as the runtime does, and the
 * binding decodes. What comes out must be the events that were sent.
 *
 * Runs when KAFKA_BROKERS is set (then an unreachable broker is a failure) or a broker answers on
 * 127.0.0.1:9092, and kcat is installed; otherwise it is skipped loudly — a failure in CI, which
 * starts the broker and installs kcat (.ci/run).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer } from 'kafkajs';
import type { CloudEvent } from '@meridian/domain';
import { serviceGate } from '../../../../test/support/services';
import { CloudEventError } from '../cloud-events';
import { decodeKafkaCloudEvents, type DecodedKafkaCloudEvents, type KafkaCloudEventMessage } from './cloud-event-kafka.binding';

const brokers = (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',').map((b) => b.trim());
const required = process.env.KAFKA_BROKERS !== undefined && process.env.KAFKA_BROKERS !== '';

/** Jest picks describe or describe.skip synchronously: a TCP connect in a child process, 2 s budget. */
function brokerListening(address: string): boolean {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  const probe = `const s = require('node:net').connect(${port}, ${JSON.stringify(host)});
s.setTimeout(2000, () => process.exit(1));
s.on('connect', () => { s.destroy(); process.exit(0); });
s.on('error', () => process.exit(1));`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
}

const kcatInstalled = spawnSync('kcat', ['-V'], { timeout: 5000 }).status === 0;

const describeKafkaWithKcat = (
  !(required || brokerListening(brokers[0]))
    ? serviceGate('Kafka', `nothing answers on ${brokers[0]}; start one with scripts/kafka/kafka.sh start, or set KAFKA_BROKERS`)
    : !kcatInstalled
      ? serviceGate('kcat', 'the kcat command is not installed (apt-get install kcat)')
      : describe
) as typeof describe;

interface Produced {
  readonly key?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** One message; null produces a message without a value (a tombstone; it needs a key). */
  readonly value: string | null;
}

// kcat skips empty input lines, so a null value is written as "<key>:" with -K: (the key
// delimiter) and -Z (empty values as NULL). The key must then not contain the delimiter.
const TOMBSTONE_KEY_DELIMITER = ':';

/** Produces one message with kcat, as an external system would, and waits for it to be acknowledged. */
function kcatProduce(topic: string, message: Produced): Promise<void> {
  if (message.value?.includes('\n')) throw new Error('kcat reads one message per line');
  const args = ['-P', '-b', brokers[0], '-t', topic, '-X', 'acks=all'];
  let input = `${message.value}\n`;
  if (message.value === null) {
    if (message.key === undefined || message.key.includes(TOMBSTONE_KEY_DELIMITER)) throw new Error('a tombstone is produced with a key free of the delimiter');
    args.push('-K', TOMBSTONE_KEY_DELIMITER, '-Z');
    input = `${message.key}${TOMBSTONE_KEY_DELIMITER}\n`;
  } else if (message.key !== undefined) {
    args.push('-k', message.key);
  }
  for (const [name, value] of Object.entries(message.headers ?? {})) args.push('-H', `${name}=${value}`);
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited with ${code}: ${stderr}`))));
    child.stdin.end(input);
  });
}

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describeKafkaWithKcat('CloudEvents Kafka binding: kcat produces, kafkajs consumes, the binding decodes', () => {
  const topic = `meridian-test-ce-binding-${process.pid}-${randomUUID().slice(0, 8)}`;
  const kafka = new Kafka({ clientId: 'meridian-test-ce-binding', brokers, logLevel: logLevel.NOTHING });
  let admin: Admin;
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
  });

  afterAll(async () => {
    for (const consumer of consumers) await consumer.disconnect();
    if (admin) {
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    }
  });

  /** Reads the topic from the beginning until `count` messages arrived, as the runtime's consumer would see them. */
  async function consume(count: number): Promise<Array<KafkaCloudEventMessage & { keyText: string | null }>> {
    const consumer = kafka.consumer({ groupId: `${topic}-reader-${randomUUID().slice(0, 8)}` });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: Array<KafkaCloudEventMessage & { keyText: string | null }> = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`received ${received.length} of ${count} messages within 30 s`)), 30_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            received.push({ key: message.key, keyText: message.key?.toString('utf8') ?? null, value: message.value, headers: message.headers });
            if (received.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    return received;
  }

  // Sent in structured mode; `time` already in the normalised form so "equal" is literal.
  const placed = {
    specversion: '1.0',
    id: `ord-${randomUUID()}`,
    source: 'urn:shop:orders',
    type: 'order.placed',
    subject: 'order-7',
    time: '2024-05-01T12:00:00.000Z',
    datacontenttype: 'application/json',
    data: { total: 12.5, lines: [{ sku: 'A-1', qty: 2 }], note: 'gift ✓' },
    region: 'eu',
  } as const;
  const shippedId = `ord-${randomUUID()}`;
  const batch = [
    { specversion: '1.0', id: `ord-${randomUUID()}`, source: 'urn:shop:orders', type: 'order.paid', subject: 'order-8', data: { amount: 3 } },
    { specversion: '1.0', id: `ord-${randomUUID()}`, source: 'urn:shop:orders', type: 'order.cancelled' },
  ] as const;

  const sent: Produced[] = [
    {
      key: placed.subject,
      headers: { 'content-type': 'application/cloudevents+json; charset=utf-8', traceparent: TRACEPARENT },
      value: JSON.stringify(placed),
    },
    {
      key: 'café-7',
      headers: {
        ce_specversion: '1.0',
        ce_id: shippedId,
        ce_source: 'urn:shop:shipping',
        ce_type: 'order.shipped',
        ce_subject: 'café-7',
        ce_time: '2024-05-01T14:30:00+02:00',
        ce_region: 'eu',
        ce_priority: 'high',
        'content-type': 'application/json',
        traceparent: TRACEPARENT,
      },
      value: '{"carrier":"dhl","parcels":2}',
    },
    {
      key: 'order-7',
      headers: { ce_specversion: '1.0', ce_id: `${shippedId}-note`, ce_source: 'urn:shop:shipping', ce_type: 'order.noted', ce_subject: 'order-7', 'content-type': 'text/plain; charset=utf-8' },
      value: 'left at the door ✓',
    },
    {
      key: 'order-7',
      headers: { ce_specversion: '1.0', ce_id: `${shippedId}-closed`, ce_source: 'urn:shop:shipping', ce_type: 'order.closed', ce_subject: 'order-7' },
      value: null,
    },
    { headers: { 'content-type': 'application/cloudevents-batch+json' }, value: JSON.stringify(batch) },
    { key: 'order-7', value: 'order 7 was placed' },
  ];

  let decoded: Array<DecodedKafkaCloudEvents | CloudEventError>;
  let keys: Array<string | null>;
  let values: Array<Buffer | null>;

  beforeAll(async () => {
    // One partition and one producer at a time: the topic keeps the order of `sent`.
    for (const message of sent) await kcatProduce(topic, message);
    const received = await consume(sent.length);
    keys = received.map((m) => m.keyText);
    values = received.map((m) => m.value);
    decoded = received.map((message) => {
      try {
        return decodeKafkaCloudEvents(message);
      } catch (error) {
        if (error instanceof CloudEventError) return error;
        throw error;
      }
    });
  });

  it('receives every message with the key its producer gave', () => {
    expect(keys).toEqual(sent.map((m) => m.key ?? null));
  });

  it('decodes a structured-mode event into the very event sent, with the traceparent header beside it', () => {
    const { region, ...core } = placed;
    const expected: CloudEvent = { ...core, extensions: { region } };

    expect(decoded[0]).toEqual({ mode: 'structured', events: [expected], traceparent: TRACEPARENT });
  });

  it('decodes a binary-mode event from its ce_ headers (UTF-8 included) and its JSON value', () => {
    expect(decoded[1]).toEqual({
      mode: 'binary',
      traceparent: TRACEPARENT,
      events: [
        {
          specversion: '1.0',
          id: shippedId,
          source: 'urn:shop:shipping',
          type: 'order.shipped',
          subject: 'café-7',
          time: '2024-05-01T12:30:00.000Z',
          datacontenttype: 'application/json',
          data: { carrier: 'dhl', parcels: 2 },
          extensions: { region: 'eu', priority: 'high' },
        },
      ],
    });
  });

  it('keeps text data of a binary-mode event as text', () => {
    expect(decoded[2]).toEqual({
      mode: 'binary',
      events: [
        {
          specversion: '1.0',
          id: `${shippedId}-note`,
          source: 'urn:shop:shipping',
          type: 'order.noted',
          subject: 'order-7',
          datacontenttype: 'text/plain; charset=utf-8',
          data: 'left at the door ✓',
        },
      ],
    });
  });

  it('reads a binary-mode message without a value (a tombstone) as an event without data', () => {
    expect(values[3]).toBeNull();
    expect(decoded[3]).toEqual({
      mode: 'binary',
      events: [{ specversion: '1.0', id: `${shippedId}-closed`, source: 'urn:shop:shipping', type: 'order.closed', subject: 'order-7' }],
    });
  });

  it('decodes a batch into every event of it, in order', () => {
    expect(decoded[4]).toEqual({ mode: 'batched', events: batch.map((event) => ({ ...event })) });
  });

  it('refuses a value that is no event with a stable code, for the dead-letter record', () => {
    const refused = decoded[5];

    expect(refused).toBeInstanceOf(CloudEventError);
    expect((refused as CloudEventError).code).toBe('MALFORMED_JSON');
    expect((refused as CloudEventError).detail).toMatch(/not valid JSON/);
  });
});
