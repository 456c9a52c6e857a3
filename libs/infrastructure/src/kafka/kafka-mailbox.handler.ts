import type { KafkaMessage } from 'kafkajs';
import type { RecordedEvent } from '@meridian/domain';
import type { RuntimeLogger } from '@meridian/agents';
import { DeadLetterPublisher, errorCode } from './dead-letter.publisher';
import type { KafkaPartitionBatch } from './kafka-batch.transport';
import { decodeRecordedEvent, headerText, KAFKA_HEADERS } from './kafka-messages';
import { ConsumerStoppingError } from './kafka-retry';

/** What runs the agents (AgentRuntime started with `follow: false`). */
export interface MailboxDispatcher {
  dispatch(event: RecordedEvent, agentId: string, done: () => void): void;
}

export interface KafkaMailboxHandlerOptions {
  readonly runtime: MailboxDispatcher;
  readonly deadLetters: DeadLetterPublisher;
  readonly consumerGroup: string;
  readonly logger: RuntimeLogger;
}

/**
 * Feeds this replica's share of the agents — the partitions of `meridian.mailbox` the consumer
 * group gave it — to the agent runtime. A batch's inputs are handed to their agents' workers at
 * once (agents run side by side; each agent's inputs, sharing a key, arrive in order and its worker
 * takes them one at a time), and the batch resolves — and its offsets are committed — only when
 * every input is fully processed. A replica that dies has committed nothing it had not finished:
 * the partition's next owner starts there, and the workers skip what the agent's state says is
 * done (decision ids derive from the mailbox entry), so nothing is lost or decided twice.
 */
export class KafkaMailboxHandler {
  constructor(private readonly options: KafkaMailboxHandlerOptions) {}

  async handle(batch: KafkaPartitionBatch): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const message of batch.messages) {
      let event: RecordedEvent;
      let agentId: string;
      try {
        event = decodeRecordedEvent(message);
        agentId = agentOf(message);
      } catch (error) {
        await this.deadLetter(batch, message, error);
        continue;
      }
      pending.push(new Promise<void>((resolve) => this.options.runtime.dispatch(event, agentId, resolve)));
    }
    await this.untilDoneOrStopping(Promise.all(pending), batch);
  }

  private async untilDoneOrStopping(work: Promise<unknown>, batch: KafkaPartitionBatch): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const stopping = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        if (batch.isStopping()) reject(new ConsumerStoppingError());
      }, 100);
    });
    try {
      await Promise.race([work, stopping]);
    } finally {
      clearInterval(timer);
    }
  }

  private async deadLetter(batch: KafkaPartitionBatch, message: KafkaMessage, error: unknown): Promise<void> {
    const detail = error instanceof Error ? error.message : String(error);
    this.options.logger.warn({ topic: batch.topic, partition: batch.partition, offset: message.offset, code: errorCode(error), detail }, 'mailbox message dead-lettered');
    await this.options.deadLetters.publish({ topic: batch.topic, partition: batch.partition, message, consumerGroup: this.options.consumerGroup }, { code: errorCode(error), detail, attempts: 1 });
  }
}

function agentOf(message: KafkaMessage): string {
  const agentId = headerText(message.headers, KAFKA_HEADERS.agentId);
  if (agentId === undefined || agentId === '') throw new Error(`the message has no ${KAFKA_HEADERS.agentId} header`);
  return agentId;
}
