import { BaseRpcContext, Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';

/** One partition's batch, handed to an `@EventPattern` handler; the offsets are committed once it resolves. */
export interface KafkaPartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly KafkaMessage[];
  /** Keeps the consumer's group membership alive during long work (also called every few seconds while the handler runs). */
  readonly heartbeat: () => Promise<void>;
  /** False once the app is stopping or the partition has been taken away: stop early, nothing is committed. */
  readonly isActive: () => boolean;
  /** True once the app is stopping (a partition taken away in a rebalance waits for its batch to finish instead). */
  readonly isStopping: () => boolean;
}

/** What a handler pattern consumes: a topic, in a consumer group shared by the app's replicas. */
export interface KafkaSubscription {
  readonly pattern: string;
  readonly topic: string;
  readonly groupId: string;
  /** How many partitions this replica works on at once (each partition stays in order). Default 4. */
  readonly partitionsConsumedConcurrently?: number;
}

export class KafkaBatchContext extends BaseRpcContext<[string, number]> {
  getTopic(): string {
    return this.args[0];
  }
  getPartition(): number {
    return this.args[1];
  }
}

interface TransportLogger {
  error(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/**
 * A NestJS microservice transport over Kafka that hands handlers whole partition batches, and
 * commits a batch's offsets only after its handler has resolved: at-least-once, with the effect
 * before the commit. Nest's built-in Kafka server hands over one message at a time; batches are
 * what lets a consumer append a partition's events in one transaction and run many agents'
 * inputs side by side while each partition stays in order.
 *
 * A handler that throws makes kafkajs restart the consumer from the last committed offset (the
 * handlers in this codebase retry and dead-letter on their own and throw only when stopping).
 */
export class KafkaBatchTransport extends Server implements CustomTransportStrategy {
  private readonly consumers: Consumer[] = [];
  private readonly joined = new Map<string, boolean>();
  private stopping = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly subscriptions: readonly KafkaSubscription[],
    private readonly log: TransportLogger,
    /** How soon the group hands a dead replica's partitions to the others. */
    private readonly sessionTimeoutMs = 10_000,
  ) {
    super();
  }

  on(): void {
    // Status events are reported through the logger and `ready`.
  }

  unwrap<T>(): T {
    return this.consumers as T;
  }

  /** Every consumer is in its group (for /health/ready). */
  get ready(): boolean {
    return this.subscriptions.every((s) => this.joined.get(s.groupId) === true);
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      for (const subscription of this.subscriptions) await this.start(subscription);
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.consumers.splice(0).map((consumer) => consumer.disconnect()));
  }

  private async start(subscription: KafkaSubscription): Promise<void> {
    const handler = this.getHandlerByPattern(subscription.pattern);
    if (handler === null) throw new Error(`no @EventPattern('${subscription.pattern}') handler in this app`);
    // A rebalance waits for members' batches in flight (agents' inputs can take a while: LLM calls)
    // for up to rebalanceTimeout before evicting the member.
    const consumer = this.kafka.consumer({ groupId: subscription.groupId, rebalanceTimeout: 300_000, sessionTimeout: this.sessionTimeoutMs, heartbeatInterval: Math.max(500, Math.floor(this.sessionTimeoutMs / 10)), maxWaitTimeInMs: 50 });
    this.consumers.push(consumer);
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.joined.set(subscription.groupId, true);
      this.log.info({ groupId: subscription.groupId, assignment: event.payload.memberAssignment }, 'kafka consumer joined its group');
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.joined.set(subscription.groupId, false);
      this.log.error({ groupId: subscription.groupId, err: event.payload.error, restart: event.payload.restart }, 'kafka consumer crashed');
    });
    consumer.on(consumer.events.DISCONNECT, () => this.joined.set(subscription.groupId, false));
    await consumer.connect();
    await consumer.subscribe({ topic: subscription.topic, fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: subscription.partitionsConsumedConcurrently ?? 4,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        if (batch.messages.length === 0) return;
        const payload: KafkaPartitionBatch = {
          topic: batch.topic,
          partition: batch.partition,
          messages: batch.messages,
          heartbeat,
          isActive: () => !this.stopping && isRunning() && !isStale(),
          isStopping: () => this.stopping || !isRunning(),
        };
        const beat = setInterval(() => void heartbeat().catch(() => undefined), Math.max(500, Math.floor(this.sessionTimeoutMs / 10)));
        try {
          const result: unknown = await handler(payload, new KafkaBatchContext([batch.topic, batch.partition]));
          if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
        } finally {
          clearInterval(beat);
        }
        if (this.stopping) return;
        resolveOffset(batch.lastOffset());
        await commitOffsetsIfNecessary();
      },
    });
  }
}
