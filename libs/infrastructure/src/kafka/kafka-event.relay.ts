import type { Message, Producer } from 'kafkajs';
import type { EventStore, RecordedEvent, Subscription } from '@meridian/domain';
import { runtimeInputTargets, type CheckpointStore, type RuntimeLogger } from '@meridian/agents';
import { KAFKA_HEADERS, recordedEventMessage } from './kafka-messages';
import type { KafkaTopics } from './kafka-topics';

export const KAFKA_EVENT_RELAY_CHECKPOINT = 'kafka-event-relay';

export interface KafkaEventRelayOptions {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  /** A connected producer. */
  readonly producer: Producer;
  readonly topics: KafkaTopics;
  readonly logger: RuntimeLogger;
  readonly checkpointName?: string;
  readonly batchSize?: number;
}

/**
 * Publishes committed events to Kafka from a checkpointed store subscription (the outbox pattern
 * without an outbox table: the store is the outbox). Every event goes to `meridian.events` keyed
 * by its stream; what the agent runtime follows goes to `meridian.mailbox` too, keyed by the agent
 * it concerns, so an agent's inputs share one partition and stay in order.
 *
 * At-least-once: the checkpoint moves only after Kafka has acknowledged the batch (acks=all), so a
 * crash re-publishes at most the last batch. Consumers dedupe by event id. One relay runs per
 * deployment (under the runtime's leader lock).
 */
export class KafkaEventRelay {
  private subscription: Subscription | null = null;
  private published = 0;
  private readonly checkpointName: string;

  constructor(private readonly options: KafkaEventRelayOptions) {
    this.checkpointName = options.checkpointName ?? KAFKA_EVENT_RELAY_CHECKPOINT;
  }

  /** Highest position published and checkpointed. */
  get position(): number {
    return this.published;
  }

  async start(): Promise<void> {
    if (this.subscription !== null) return;
    const after = await this.options.checkpoints.load(this.checkpointName);
    this.published = after;
    this.subscription = this.options.store.subscribe(
      {
        onEvents: (events) => this.publish(events),
        onError: (error) => this.options.logger.error({ err: error }, 'kafka event relay: batch not published; retrying'),
      },
      { after, batchSize: this.options.batchSize ?? 1000 },
    );
  }

  async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.stop();
  }

  private async publish(events: readonly RecordedEvent[]): Promise<void> {
    const fresh = events.filter((event) => event.position > this.published);
    if (fresh.length === 0) return;
    const toEvents: Message[] = [];
    const toMailbox: Message[] = [];
    for (const event of fresh) {
      toEvents.push(recordedEventMessage(event, event.streamName));
      for (const agentId of await runtimeInputTargets(event, this.options.store)) {
        toMailbox.push(recordedEventMessage(event, mailboxKey(event, agentId), { [KAFKA_HEADERS.agentId]: agentId }));
      }
    }
    const topicMessages = [{ topic: this.options.topics.events, messages: toEvents }];
    if (toMailbox.length > 0) topicMessages.push({ topic: this.options.topics.mailbox, messages: toMailbox });
    await this.options.producer.sendBatch({ topicMessages, acks: -1 });
    const last = fresh[fresh.length - 1] as RecordedEvent;
    await this.options.checkpoints.save(this.checkpointName, last.position);
    this.published = last.position;
  }
}

/** Agents are per tenant: the key names both, so two tenants' agents of the same id are two keys. */
function mailboxKey(event: RecordedEvent, agentId: string): string {
  const slash = event.streamName.indexOf('/');
  return `${slash < 0 ? '' : event.streamName.slice(0, slash)}/${agentId}`;
}
