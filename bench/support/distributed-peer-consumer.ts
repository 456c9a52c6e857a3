/**
 * The raw-Kafka peer's consumer, run as its own OS process (as the runtime consumes in its own):
 * a kafkajs consumer group on a topic, batches per partition with the settings of the runtime's
 * KafkaBatchTransport (maxWaitTimeInMs 50, every partition at once, offsets resolved and committed
 * after each batch). Every message's value is parsed as the JSON event it is; the process reports
 * `[seq, receivedAt]` pairs (wall-clock ms at the batch's arrival) to its parent over IPC.
 *
 * Started by distributed-peer.ts with the settings in env: BENCH_PEER_BROKERS, BENCH_PEER_TOPIC,
 * BENCH_PEER_GROUP, BENCH_PEER_PARTITIONS.
 */
import { Kafka, logLevel } from 'kafkajs';

const wallNow = (): number => performance.timeOrigin + performance.now();

export interface PeerConsumerReport {
  readonly kind: 'received';
  /** Flattened `[seq, receivedAt, seq, receivedAt, …]`. */
  readonly pairs: number[];
}

export type PeerConsumerMessage = { readonly kind: 'ready' } | PeerConsumerReport | { readonly kind: 'error'; readonly detail: string };

async function main(): Promise<void> {
  const send = (message: PeerConsumerMessage) => process.send?.(message);
  const brokers = (process.env.BENCH_PEER_BROKERS ?? '127.0.0.1:9092').split(',');
  const topic = process.env.BENCH_PEER_TOPIC ?? '';
  const groupId = process.env.BENCH_PEER_GROUP ?? '';
  const partitions = Number(process.env.BENCH_PEER_PARTITIONS ?? '6');
  const kafka = new Kafka({ clientId: 'bench-peer-consumer', brokers, logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 50 });
  let pairs: number[] = [];
  const flush = setInterval(() => {
    if (pairs.length === 0) return;
    send({ kind: 'received', pairs });
    pairs = [];
  }, 100);
  consumer.on(consumer.events.GROUP_JOIN, () => send({ kind: 'ready' }));
  consumer.on(consumer.events.CRASH, (event) => send({ kind: 'error', detail: String(event.payload.error) }));
  const stop = async () => {
    clearInterval(flush);
    if (pairs.length > 0) send({ kind: 'received', pairs });
    await consumer.disconnect().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('disconnect', () => void stop());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: partitions,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
      if (batch.messages.length === 0) return;
      const at = wallNow();
      for (const message of batch.messages) {
        const event = JSON.parse(message.value?.toString('utf8') ?? 'null') as { data?: { seq?: unknown } } | null;
        const seq = event?.data?.seq;
        if (typeof seq === 'number') pairs.push(seq, at);
      }
      resolveOffset(batch.lastOffset());
      await commitOffsetsIfNecessary();
    },
  });
}

main().catch((error: unknown) => {
  process.send?.({ kind: 'error', detail: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
});
