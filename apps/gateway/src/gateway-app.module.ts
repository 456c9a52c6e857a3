import { Global, Inject, Injectable, Module, type DynamicModule, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import { PinoLogger } from 'nestjs-pino';
import type { DataSource } from 'typeorm';
import { EVENT_STORE, type EventStore } from '@meridian/domain';
import { INBOUND_EVENTS, IngestEventsService, TOKEN_STREAM } from '@meridian/agents';
import type { MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { DeadLetterStore } from '@meridian/infrastructure/kafka/dead-letter.store';
import { DEAD_LETTERS, KafkaDeadLetters } from '@meridian/infrastructure/kafka/dead-letters.service';
import { KAFKA_PRODUCER, KAFKA_READINESS, KafkaModule, type KafkaReadiness } from '@meridian/infrastructure/kafka/kafka.module';
import { MetricsModule } from '@meridian/infrastructure/metrics';
import { PlatformModule } from '@meridian/infrastructure/platform/platform.module';
import { READINESS_CHECKS, type ReadinessCheck } from '@meridian/infrastructure/platform/readiness';
import { READ_MODEL_DATA_SOURCE, ReadModelsModule } from '@meridian/infrastructure/read-models';
import { REALTIME_FEED } from '@meridian/infrastructure/realtime/realtime-feed.port';
import { RedisRealtimeFeed } from '@meridian/infrastructure/realtime/redis-realtime.feed';
import { RedisTokenStream } from '@meridian/infrastructure/realtime/redis-token.stream';
import { GatewayModule } from './gateway.module';

@Injectable()
class DistributedGatewayLifecycle implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(REALTIME_FEED) private readonly feed: RedisRealtimeFeed,
    @Inject(TOKEN_STREAM) private readonly tokens: RedisTokenStream,
    @Inject(DeadLetterStore) private readonly deadLetters: DeadLetterStore,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.deadLetters.init();
    // Subscribed before the app accepts connections: no client can miss what follows.
    await this.feed.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.feed.stop();
    await this.tokens.stop();
  }
}

/**
 * What the gateway needs in the distributed mode: ingestion appends to the shared event store
 * (the 202 reports accepted and duplicates exactly, and read-your-writes holds), realtime updates
 * and reply tokens arrive through Redis from whichever app produced them, dead letters are read
 * from the table the projector fills and retried through Kafka.
 */
@Global()
@Module({})
class DistributedGatewayDependencies {
  static forRoot(config: MeridianConfig): DynamicModule {
    const redis = config.redis as { url: string; prefix: string };
    return {
      module: DistributedGatewayDependencies,
      providers: [
        { provide: INBOUND_EVENTS, useFactory: (store: EventStore) => new IngestEventsService(store), inject: [EVENT_STORE] },
        {
          provide: REALTIME_FEED,
          useFactory: (logger: PinoLogger) =>
            new RedisRealtimeFeed({
              redis: redis.url,
              prefix: redis.prefix,
              onError: (error, context) => logger.warn({ err: error, context }, 'realtime feed: failure'),
              onGap: (reason) => logger.info({ reason }, 'realtime feed: listeners catch up from the store'),
            }),
          inject: [PinoLogger],
        },
        {
          provide: TOKEN_STREAM,
          useFactory: (logger: PinoLogger) => new RedisTokenStream({ redis: redis.url, prefix: redis.prefix, onError: (error, context) => logger.warn({ err: error, context }, 'token stream: redis failure') }),
          inject: [PinoLogger],
        },
        { provide: DeadLetterStore, useFactory: (dataSource: DataSource) => new DeadLetterStore(dataSource), inject: [READ_MODEL_DATA_SOURCE] },
        { provide: DEAD_LETTERS, useFactory: (store: DeadLetterStore, producer: Producer) => new KafkaDeadLetters(store, producer), inject: [DeadLetterStore, KAFKA_PRODUCER] },
        {
          provide: READINESS_CHECKS,
          useFactory: (kafka: KafkaReadiness, feed: RedisRealtimeFeed): ReadinessCheck[] => [
            kafka,
            {
              name: 'redis',
              check: async () => {
                if (!feed.connected) throw new Error('the realtime feed is not subscribed to Redis');
                return { channel: feed.channel };
              },
            },
          ],
          inject: [KAFKA_READINESS, REALTIME_FEED],
        },
        DistributedGatewayLifecycle,
      ],
      exports: [INBOUND_EVENTS, REALTIME_FEED, TOKEN_STREAM, DEAD_LETTERS, READINESS_CHECKS],
    };
  }
}

/** The gateway app of the distributed mode (`npm run start:gateway`): stateless, run as many replicas as needed. */
@Module({})
export class GatewayAppModule {
  static forRoot(config: MeridianConfig): DynamicModule {
    return {
      module: GatewayAppModule,
      imports: [
        PlatformModule.forRoot(config),
        ReadModelsModule.forRoot({ database: config.readModels.kind === 'sqlite' ? { type: 'sqlite', path: config.readModels.path } : { type: 'postgres', url: config.readModels.url, schema: config.readModels.schema } }),
        KafkaModule.forRoot('gateway'),
        MetricsModule.forRoot({ runtime: false }),
        DistributedGatewayDependencies.forRoot(config),
        GatewayModule,
      ],
    };
  }
}
