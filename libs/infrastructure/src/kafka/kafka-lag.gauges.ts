import { Gauge, type Registry } from 'prom-client';
import type { Admin, Kafka } from 'kafkajs';

export interface ConsumerLagSource {
  readonly groupId: string;
  readonly topic: string;
}

/**
 * Kafka lag, read when Prometheus scrapes: per consumer group and topic, the messages between each
 * partition's end and the group's committed offset (what autoscaling on lag looks at), and the
 * relay's lag behind the event store (committed events not yet published).
 */
export function registerKafkaLagGauges(
  registry: Registry,
  sources: { readonly kafka: Kafka; readonly consumers: readonly ConsumerLagSource[]; readonly relayLag?: () => Promise<number | null>; readonly onError?: (error: unknown) => void },
): { close(): Promise<void> } {
  let admin: Admin | null = null;
  const connected = async (): Promise<Admin> => {
    if (admin === null) {
      admin = sources.kafka.admin();
      await admin.connect();
    }
    return admin;
  };
  new Gauge({
    name: 'meridian_kafka_consumer_lag_messages',
    help: 'Messages in the topic not yet committed by the consumer group (sum over partitions).',
    labelNames: ['group', 'topic'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const client = await connected();
        for (const { groupId, topic } of sources.consumers) {
          const [ends, committed] = await Promise.all([client.fetchTopicOffsets(topic), client.fetchOffsets({ groupId, topics: [topic] })]);
          const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
          let lag = 0;
          for (const end of ends) {
            const at = done.get(end.partition) ?? -1;
            // No commit yet: the group starts from the beginning (the partition's low watermark).
            lag += Number(end.high) - (at >= 0 ? at : Number(end.low));
          }
          this.set({ group: groupId, topic }, lag);
        }
      } catch (error) {
        sources.onError?.(error);
      }
    },
  });
  if (sources.relayLag !== undefined) {
    const relayLag = sources.relayLag;
    new Gauge({
      name: 'meridian_kafka_relay_lag_events',
      help: 'Committed events the Kafka relay has not published yet (on the replica running it).',
      registers: [registry],
      async collect() {
        this.reset();
        try {
          const lag = await relayLag();
          if (lag !== null) this.set(lag);
        } catch (error) {
          sources.onError?.(error);
        }
      },
    });
  }
  return { close: async () => void (await (admin as Admin | null)?.disconnect().catch(() => undefined)) };
}
