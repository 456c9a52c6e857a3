import { Kafka, logLevel, Partitioners, type Message, type Producer } from 'kafkajs';

/**
 * The distributed benchmark's load: CloudEvents in the Kafka binding's structured mode (header
 * `content-type: application/cloudevents+json`, value = the JSON event, key = subject), produced
 * open loop at a target rate by one kafkajs producer, the way an external business system writes
 * to `<prefix>.inbound`. The raw-Kafka peer sends the very same messages with the same producer
 * code, so both measure from the same starting line.
 */

export const INGESTED_TYPE = 'dist.order.placed';
/** Events no agent subscribes to: the ingest path alone (stored, relayed, projected, shown on the socket). */
export const UNROUTED_TYPE = 'dist.order.viewed';
/** Events only the one agent of the serial probe subscribes to. */
export const SINGLE_AGENT_TYPE = 'dist.order.flagged';
/** What the bench agents emit for every event; its `data.of` names the event, `data.sentAt` echoes its send time. */
export const REACTION_TYPE = 'reaction.dist';
export const CLOUD_EVENTS_CONTENT_TYPE = 'application/cloudevents+json';
const SOURCE = 'https://shop.example.com/checkout';
/** Events spread over this many subjects (Kafka keys, and one entity stream each). */
const SUBJECTS = 10_000;
const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;

/** Wall-clock ms with sub-ms precision: comparable with PostgreSQL's `now()` and other processes' clocks. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The `seq`-th event of a run as a Kafka message; `shard` picks the one agent that reacts to it. */
export function eventMessage(runId: string, seq: number, shards: number, sentAt: number, type: string = INGESTED_TYPE): Message {
  const subject = `order-${seq % SUBJECTS}`;
  const event = {
    specversion: '1.0',
    id: `${runId}-${seq}`,
    source: SOURCE,
    type,
    subject,
    time: new Date(sentAt).toISOString(),
    datacontenttype: 'application/json',
    data: {
      seq,
      sentAt,
      shard: seq % shards,
      orderId: subject,
      customerId: `cust-${seq % 5000}`,
      amount: (seq * 7919) % 1000,
      currency: CURRENCIES[seq % CURRENCIES.length],
    },
  };
  return { key: subject, value: JSON.stringify(event), headers: { 'content-type': CLOUD_EVENTS_CONTENT_TYPE } };
}

/** Size in bytes of a typical message (key + value + header), for the report. */
export function typicalMessageBytes(runId: string, shards: number): number {
  const message = eventMessage(runId, 123_456, shards, wallNow());
  return Buffer.byteLength(String(message.key)) + Buffer.byteLength(String(message.value)) + 'content-type'.length + CLOUD_EVENTS_CONTENT_TYPE.length;
}

export function benchKafka(brokers: readonly string[], clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING, retry: { retries: 5 } });
}

/** A plain external producer: acks from all in-sync replicas (kafkajs' default), no compression. */
export async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return producer;
}

export interface OpenLoopOptions {
  readonly producer: Producer;
  readonly topic: string;
  readonly rate: number;
  /** Events of the step: rate × seconds. */
  readonly events: number;
  readonly firstSeq: number;
  readonly build: (seq: number, sentAt: number) => Message;
  /** Every `flushMs` what is due by then goes out as one produce request. */
  readonly flushMs: number;
  readonly maxInFlight: number;
  /** Sending stops here (ms after the start) even if events are left: a step never stretches without bound. */
  readonly deadlineMs: number;
  readonly onSent?: (fromSeq: number, count: number, at: number) => void;
  readonly onTick?: (elapsedMs: number, sent: number, acked: number) => void;
  readonly shouldStop?: () => boolean;
}

export interface OpenLoopResult {
  readonly sent: number;
  readonly acked: number;
  readonly failed: number;
  readonly errors: Record<string, number>;
  readonly startedAt: number;
  readonly sendEndedAt: number;
  /** Sending → the broker's acknowledgement, per produce request. */
  readonly ackMs: number[];
  /** How late the producer ran behind its schedule at most (ms): above a few ms the bench itself could not keep the rate. */
  readonly maxLagMs: number;
}

/**
 * Open loop: at start + k × flushMs everything due by then (rate × elapsed) is sent as one
 * request, whatever happened to earlier requests, unless `maxInFlight` requests are open. Each
 * event carries the wall-clock time its request went out.
 */
export async function produceOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const errors: Record<string, number> = {};
  const ackMs: number[] = [];
  const open = new Set<Promise<void>>();
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let maxLagMs = 0;
  const startedAt = wallNow();
  let lastTick = startedAt;
  for (let k = 1; sent < options.events; k++) {
    if (options.shouldStop?.()) break;
    const scheduled = startedAt + k * options.flushMs;
    const wait = scheduled - wallNow();
    if (wait > 1) await sleep(wait);
    while (open.size >= options.maxInFlight) await Promise.race(open);
    const at = wallNow();
    if (at - startedAt > options.deadlineMs) break;
    maxLagMs = Math.max(maxLagMs, at - scheduled);
    const due = Math.min(options.events, Math.floor((options.rate * (at - startedAt)) / 1000));
    const count = due - sent;
    if (count <= 0) continue;
    const fromSeq = options.firstSeq + sent;
    const messages: Message[] = new Array<Message>(count);
    for (let i = 0; i < count; i++) messages[i] = options.build(fromSeq + i, at);
    sent += count;
    options.onSent?.(fromSeq, count, at);
    const request = options.producer
      .send({ topic: options.topic, messages })
      .then(() => {
        acked += count;
        ackMs.push(wallNow() - at);
      })
      .catch((error: unknown) => {
        failed += count;
        const key = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        errors[key] = (errors[key] ?? 0) + 1;
      })
      .finally(() => open.delete(request));
    open.add(request);
    if (at - lastTick >= 2000) {
      lastTick = at;
      options.onTick?.(at - startedAt, sent, acked);
    }
  }
  const sendEndedAt = wallNow();
  await Promise.all(open);
  return { sent, acked, failed, errors, startedAt, sendEndedAt, ackMs, maxLagMs };
}

/** Closed loop, as fast as the broker takes it: `events` messages in requests of `batch`, `inFlight` at a time. */
export async function produceFlatOut(producer: Producer, topic: string, events: number, batch: number, inFlight: number, build: (seq: number, sentAt: number) => Message): Promise<{ startedAt: number; endedAt: number }> {
  const startedAt = wallNow();
  let next = 0;
  const worker = async () => {
    while (next < events) {
      const from = next;
      const count = Math.min(batch, events - from);
      next += count;
      const at = wallNow();
      const messages: Message[] = new Array<Message>(count);
      for (let i = 0; i < count; i++) messages[i] = build(from + i, at);
      await producer.send({ topic, messages });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { startedAt, endedAt: wallNow() };
}
