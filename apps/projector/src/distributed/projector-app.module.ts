import { Inject, Injectable, Module, type DynamicModule, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { PinoLogger } from 'nestjs-pino';
import type { DataSource } from 'typeorm';
import type { MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { DeadLetterStore } from '@meridian/infrastructure/kafka/dead-letter.store';
import { KafkaBatchTransport } from '@meridian/infrastructure/kafka/kafka-batch.transport';
import { KAFKA_CLIENT } from '@meridian/infrastructure/kafka/kafka-client';
import { kafkaConsumerGroups, type KafkaTopics } from '@meridian/infrastructure/kafka/kafka-topics';
import { KAFKA_READINESS, KAFKA_TOPICS, KafkaModule, requireKafka, type KafkaReadiness } from '@meridian/infrastructure/kafka/kafka.module';
import { MetricsModule } from '@meridian/infrastructure/metrics';
import { PlatformModule } from '@meridian/infrastructure/platform/platform.module';
import { READINESS_CHECKS, type ReadinessCheck } from '@meridian/infrastructure/platform/readiness';
import { READ_MODEL_DATA_SOURCE, ReadModelsModule } from '@meridian/infrastructure/read-models';
import { OperationsHttpModule } from '@meridian/infrastructure/operations/operations-http.module';
import { ProjectorModule } from '../projector.module';
import { DEAD_LETTERS_PATTERN, DeadLettersKafkaController } from './dead-letters-kafka.controller';

export const PROJECTOR_TRANSPORT = Symbol('ProjectorKafkaTransport');

@Injectable()
class DeadLettersLifecycle implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(DeadLetterStore) private readonly store: DeadLetterStore,
    @Inject(PROJECTOR_TRANSPORT) private readonly transport: KafkaBatchTransport,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.store.init();
  }

  async onModuleDestroy(): Promise<void> {
    await this.transport.close();
  }
}

/**
 * The projector app of the distributed mode (`npm run start:projector`): projects the shared event
 * store into the PostgreSQL read models (checkpoints in the same transactions), runs the rebuilds
 * that the gateway's admin API records in the projection state table, and fills the dead-letter
 * table from `meridian.dlq`.
 */
@Module({})
export class ProjectorAppModule {
  static forRoot(config: MeridianConfig): DynamicModule {
    const groups = kafkaConsumerGroups(requireKafka(config).topicPrefix);
    return {
      module: ProjectorAppModule,
      // Global so that the operations module's health controller sees this app's readiness checks.
      global: true,
      exports: [READINESS_CHECKS],
      imports: [
        PlatformModule.forRoot(config),
        ReadModelsModule.forRoot({ database: config.readModels.kind === 'sqlite' ? { type: 'sqlite', path: config.readModels.path } : { type: 'postgres', url: config.readModels.url, schema: config.readModels.schema } }),
        KafkaModule.forRoot('projector'),
        MetricsModule.forRoot({ runtime: false }),
        OperationsHttpModule,
        ProjectorModule,
      ],
      controllers: [DeadLettersKafkaController],
      providers: [
        { provide: DeadLetterStore, useFactory: (dataSource: DataSource) => new DeadLetterStore(dataSource), inject: [READ_MODEL_DATA_SOURCE] },
        {
          provide: PROJECTOR_TRANSPORT,
          useFactory: (client: Kafka, topics: KafkaTopics, logger: PinoLogger) =>
            new KafkaBatchTransport(client, [{ pattern: DEAD_LETTERS_PATTERN, topic: topics.dlq, groupId: groups.projectorDeadLetters, partitionsConsumedConcurrently: 1 }], {
              info: (fields, message) => logger.info(fields, message),
              error: (fields, message) => logger.error(fields, message),
            }),
          inject: [KAFKA_CLIENT, KAFKA_TOPICS, PinoLogger],
        },
        {
          provide: READINESS_CHECKS,
          useFactory: (kafka: KafkaReadiness, transport: KafkaBatchTransport): ReadinessCheck[] => [
            kafka,
            {
              name: 'kafkaConsumers',
              check: async () => {
                if (!transport.ready) throw new Error('the dead-letter consumer has not joined its group');
                return {};
              },
            },
          ],
          inject: [KAFKA_READINESS, PROJECTOR_TRANSPORT],
        },
        DeadLettersLifecycle,
      ],
    };
  }
}
