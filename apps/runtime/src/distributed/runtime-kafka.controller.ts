import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import type { KafkaPartitionBatch } from '@meridian/infrastructure/kafka/kafka-batch.transport';
import { KafkaInboundHandler } from '@meridian/infrastructure/kafka/kafka-inbound.handler';
import { KafkaMailboxHandler } from '@meridian/infrastructure/kafka/kafka-mailbox.handler';

export const INBOUND_PATTERN = 'inbound';
export const MAILBOX_PATTERN = 'mailbox';

/** The runtime's Kafka entry points: domain events in, and this replica's share of the agents' inputs. */
@Controller()
export class RuntimeKafkaController {
  constructor(
    @Inject(KafkaInboundHandler) private readonly inbound: KafkaInboundHandler,
    @Inject(KafkaMailboxHandler) private readonly mailbox: KafkaMailboxHandler,
  ) {}

  @EventPattern(INBOUND_PATTERN)
  ingest(@Payload() batch: KafkaPartitionBatch): Promise<void> {
    return this.inbound.handle(batch);
  }

  @EventPattern(MAILBOX_PATTERN)
  deliver(@Payload() batch: KafkaPartitionBatch): Promise<void> {
    return this.mailbox.handle(batch);
  }
}
