import type { Producer } from 'kafkajs';
import { notFound } from '@meridian/domain';
import type { DeadLetter, DeadLetterStore } from './dead-letter.store';

export const DEAD_LETTERS = Symbol('DeadLetters');

export const RETRY_OF_HEADER = 'meridian-retry-of';

/** What operators do with dead letters: list them, and replay one into the topic it came from. */
export interface DeadLettersPort {
  list(options: { limit: number; after?: string }): Promise<{ items: DeadLetter[]; nextCursor: string | null }>;
  retry(id: string): Promise<DeadLetter>;
}

/** Standalone mode has no Kafka and thus no dead letters: the list is empty, a retry finds nothing. */
export class NoDeadLetters implements DeadLettersPort {
  async list(): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
    return { items: [], nextCursor: null };
  }

  async retry(id: string): Promise<DeadLetter> {
    throw missing(id);
  }
}

/**
 * Dead letters of the distributed mode. A retry produces the original message — key, value and
 * headers as first consumed, plus `meridian-retry-of` — to its original topic, where its consumer
 * takes it like any other (idempotently: a message that had half succeeded is not applied twice).
 */
export class KafkaDeadLetters implements DeadLettersPort {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly producer: Producer,
  ) {}

  list(options: { limit: number; after?: string }): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
    return this.store.list(options);
  }

  async retry(id: string): Promise<DeadLetter> {
    const original = await this.store.original(id);
    if (original === null) throw missing(id);
    await this.producer.send({
      topic: original.topic,
      acks: -1,
      messages: [{ key: original.key, value: original.value, headers: { ...original.headers, [RETRY_OF_HEADER]: id } }],
    });
    await this.store.markRetried(id, new Date().toISOString());
    return (await this.store.get(id)) as DeadLetter;
  }
}

const missing = (id: string) => notFound('DEAD_LETTER_NOT_FOUND', `There is no dead letter "${id}".`);
