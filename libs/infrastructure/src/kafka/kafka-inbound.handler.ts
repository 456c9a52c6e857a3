import type { KafkaMessage } from 'kafkajs';
import type { CloudEvent, EventStore } from '@meridian/domain';
import type { InboundEventsPort, IngestContext, RuntimeLogger } from '@meridian/agents';
import { DeadLetterPublisher, errorCode } from './dead-letter.publisher';
import type { KafkaPartitionBatch } from './kafka-batch.transport';
import { attemptWithBackoff, ConsumerStoppingError } from './kafka-retry';

/** Turns one message of `meridian.inbound` into CloudEvents (the CloudEvents Kafka binding). */
export type InboundMessageDecoder = (message: KafkaMessage) => { readonly events: readonly CloudEvent[]; readonly traceparent?: string };

export interface KafkaInboundHandlerOptions {
  readonly inbound: InboundEventsPort;
  readonly store: Pick<EventStore, 'headPosition'>;
  readonly decode: InboundMessageDecoder;
  readonly deadLetters: DeadLetterPublisher;
  readonly consumerGroup: string;
  /** Kafka producers write for the deployment's tenant. */
  readonly tenantId: string;
  readonly maxAttempts: number;
  readonly retryBaseDelayMs: number;
  readonly logger: RuntimeLogger;
}

interface Decoded {
  readonly message: KafkaMessage;
  readonly events: readonly CloudEvent[];
  readonly context: IngestContext;
}

/**
 * Appends the domain events producers write to `meridian.inbound`, a partition batch at a time:
 * all of a batch's messages are ingested together (one group commit), deduplicated by CloudEvent
 * `(source, id)` in the append's transaction, and the offsets are committed only after (by the
 * transport). A message that cannot be decoded is dead-lettered at once (it would fail the same
 * way every time); a batch that fails is retried with backoff, then its messages one by one, and
 * the ones that still fail go to the DLQ — so one poison message never blocks its partition.
 * While the event store is down nothing is counted or dead-lettered: the consumer waits.
 */
export class KafkaInboundHandler {
  constructor(private readonly options: KafkaInboundHandlerOptions) {}

  async handle(batch: KafkaPartitionBatch): Promise<void> {
    const decoded: Decoded[] = [];
    for (const message of batch.messages) {
      let result: ReturnType<InboundMessageDecoder>;
      try {
        result = this.options.decode(message);
      } catch (error) {
        await this.deadLetter(batch, message, error, 1);
        continue;
      }
      if (result.events.length === 0) continue;
      decoded.push({ message, events: result.events, context: this.context(batch, message, result.traceparent) });
    }
    if (decoded.length === 0) return;
    const whole = await attemptWithBackoff(() => this.ingest(decoded), this.attemptOptions(batch));
    if (whole.ok) return;
    this.options.logger.warn({ err: whole.error, topic: batch.topic, partition: batch.partition, messages: decoded.length }, 'inbound batch failed; ingesting its messages one by one');
    for (const one of decoded) {
      const outcome = await attemptWithBackoff(() => this.ingest([one]), this.attemptOptions(batch));
      if (!outcome.ok) await this.deadLetter(batch, one.message, outcome.error, outcome.attempts);
    }
  }

  private async ingest(decoded: readonly Decoded[]): Promise<void> {
    // Concurrent requests join one group commit in the ingestion service, in this order.
    await Promise.all(decoded.map((one) => this.options.inbound.ingest(one.events, one.context)));
  }

  private attemptOptions(batch: KafkaPartitionBatch) {
    return {
      maxAttempts: this.options.maxAttempts,
      baseDelayMs: this.options.retryBaseDelayMs,
      isActive: batch.isActive,
      isOutage: async () => {
        try {
          await this.options.store.headPosition();
          return false;
        } catch {
          return true;
        }
      },
    };
  }

  private context(batch: KafkaPartitionBatch, message: KafkaMessage, traceparent: string | undefined): IngestContext {
    const timestamp = Number(message.timestamp);
    return {
      tenantId: this.options.tenantId,
      actor: { kind: 'system', id: 'kafka' },
      requestId: `kafka:${batch.topic}:${batch.partition}:${message.offset}`,
      receivedAt: new Date(Number.isFinite(timestamp) && timestamp > 0 ? timestamp : Date.now()).toISOString(),
      ...(traceparent !== undefined && { traceparent }),
    };
  }

  private async deadLetter(batch: KafkaPartitionBatch, message: KafkaMessage, error: unknown, attempts: number): Promise<void> {
    if (error instanceof ConsumerStoppingError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    this.options.logger.warn({ topic: batch.topic, partition: batch.partition, offset: message.offset, code: errorCode(error), detail, attempts }, 'inbound message dead-lettered');
    await this.options.deadLetters.publish({ topic: batch.topic, partition: batch.partition, message, consumerGroup: this.options.consumerGroup }, { code: errorCode(error), detail, attempts });
  }
}
