import type { Kafka } from 'kafkajs';
import type { KafkaConfig } from '../config/meridian-config';

/** The topics of the distributed mode (DESIGN §6). */
export interface KafkaTopics {
  /** Domain events in, written by the business systems; keyed by subject. */
  readonly inbound: string;
  /** Every committed event out, published from the store (outbox style); keyed by stream. */
  readonly events: string;
  /** What the runtime's agents consume: their inputs and what changes them; keyed by agent id. */
  readonly mailbox: string;
  /** Messages that failed every attempt, with the error, for an operator to inspect and retry. */
  readonly dlq: string;
}

export function kafkaTopics(prefix: string): KafkaTopics {
  return { inbound: `${prefix}.inbound`, events: `${prefix}.events`, mailbox: `${prefix}.mailbox`, dlq: `${prefix}.dlq` };
}

/** Consumer groups: every replica of an app joins its group, so the replicas share the partitions. */
export function kafkaConsumerGroups(prefix: string): { readonly runtimeInbound: string; readonly runtimeMailbox: string; readonly projectorDeadLetters: string } {
  return { runtimeInbound: `${prefix}.runtime.inbound`, runtimeMailbox: `${prefix}.runtime.mailbox`, projectorDeadLetters: `${prefix}.projector.dead-letters` };
}

export interface EnsuredTopic {
  readonly topic: string;
  readonly partitions: number;
  readonly created: boolean;
}

/**
 * Creates the topics that do not exist yet, with the partition counts of the configuration, and
 * grows those that have fewer partitions than configured (Kafka cannot shrink a topic; more than
 * configured is kept). Every app calls it at start: creating concurrently is harmless.
 */
export async function ensureKafkaTopics(kafka: Kafka, config: KafkaConfig): Promise<EnsuredTopic[]> {
  const topics = kafkaTopics(config.topicPrefix);
  const wanted = [
    { topic: topics.inbound, numPartitions: config.partitions.inbound },
    { topic: topics.events, numPartitions: config.partitions.events },
    { topic: topics.mailbox, numPartitions: config.partitions.mailbox },
    { topic: topics.dlq, numPartitions: config.partitions.dlq },
  ];
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      try {
        await admin.createTopics({ waitForLeaders: true, topics: missing.map((t) => ({ ...t, replicationFactor: config.replicationFactor })) });
      } catch (error) {
        // Another app created them meanwhile: fine. Anything else is a real failure.
        if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
      }
    }
    const metadata = await admin.fetchTopicMetadata({ topics: wanted.map((t) => t.topic) });
    const counts = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
    const grow = wanted.filter((t) => (counts.get(t.topic) ?? 0) < t.numPartitions);
    if (grow.length > 0) {
      await admin.createPartitions({ topicPartitions: grow.map((t) => ({ topic: t.topic, count: t.numPartitions })) });
      for (const t of grow) counts.set(t.topic, t.numPartitions);
    }
    return wanted.map((t) => ({ topic: t.topic, partitions: counts.get(t.topic) ?? t.numPartitions, created: missing.some((m) => m.topic === t.topic) }));
  } finally {
    await admin.disconnect();
  }
}
