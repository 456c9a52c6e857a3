import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { DeadLetterStore } from '@meridian/infrastructure/kafka/dead-letter.store';
import type { KafkaPartitionBatch } from '@meridian/infrastructure/kafka/kafka-batch.transport';

export const DEAD_LETTERS_PATTERN = 'dead-letters';

/** Reads `meridian.dlq` into the dead-letter table the admin API lists (idempotent by DLQ offset). */
@Controller()
export class DeadLettersKafkaController {
  constructor(@Inject(DeadLetterStore) private readonly store: DeadLetterStore) {}

  @EventPattern(DEAD_LETTERS_PATTERN)
  async record(@Payload() batch: KafkaPartitionBatch): Promise<void> {
    for (const message of batch.messages) await this.store.record(batch.partition, message);
  }
}
