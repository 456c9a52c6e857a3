import type { IHeaders, KafkaMessage, Producer } from 'kafkajs';

/** Headers a dead-lettered message carries besides its original ones. */
export const DEAD_LETTER_HEADERS = {
  topic: 'meridian-dlq-topic',
  partition: 'meridian-dlq-partition',
  offset: 'meridian-dlq-offset',
  consumerGroup: 'meridian-dlq-consumer-group',
  errorCode: 'meridian-dlq-error-code',
  error: 'meridian-dlq-error',
  attempts: 'meridian-dlq-attempts',
  failedAt: 'meridian-dlq-failed-at',
} as const;

export interface DeadLetterSource {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
  readonly consumerGroup: string;
}

export interface DeadLetterReason {
  readonly code: string;
  readonly detail: string;
  readonly attempts: number;
}

/** The stable code of an error: its `code` property when it has a string one, else its name. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return error instanceof Error ? error.name : 'UNKNOWN_ERROR';
}

/**
 * Moves a message that failed every attempt to `meridian.dlq`: its key, value and headers
 * unchanged (so a retry replays it exactly), plus where it came from and why it failed. The
 * consumer commits past the message only once the broker has acknowledged the copy, so a poison
 * message never blocks its partition and is never lost.
 */
export class DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly dlqTopic: string,
  ) {}

  async publish(source: DeadLetterSource, reason: DeadLetterReason): Promise<void> {
    const headers: IHeaders = {
      ...source.message.headers,
      [DEAD_LETTER_HEADERS.topic]: source.topic,
      [DEAD_LETTER_HEADERS.partition]: String(source.partition),
      [DEAD_LETTER_HEADERS.offset]: source.message.offset,
      [DEAD_LETTER_HEADERS.consumerGroup]: source.consumerGroup,
      [DEAD_LETTER_HEADERS.errorCode]: reason.code,
      [DEAD_LETTER_HEADERS.error]: reason.detail.slice(0, 4000),
      [DEAD_LETTER_HEADERS.attempts]: String(reason.attempts),
      [DEAD_LETTER_HEADERS.failedAt]: new Date().toISOString(),
    };
    await this.producer.send({ topic: this.dlqTopic, acks: -1, messages: [{ key: source.message.key, value: source.message.value, headers }] });
  }
}
