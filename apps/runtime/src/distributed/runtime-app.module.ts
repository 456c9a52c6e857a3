import { Inject, Injectable, Module, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { PinoLogger } from 'nestjs-pino';
import { EVENT_STORE, type EventStore } from '@meridian/domain';
import {
  INBOUND_EVENTS,
  TOKEN_STREAM,
  TRIGGER_STATE_STORE,
  type AgentRouter,
  type AgentRuntime,
  type InboundEventsPort,
  type PlatformHealthReporter,
  type RuntimeDeadlines,
  type TriggerEngine,
} from '@meridian/agents';
import { SqlCheckpointStore } from '@meridian/infrastructure/checkpoints/sql-checkpoint.store';
import type { MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { decodeKafkaCloudEvents } from '@meridian/infrastructure/kafka/cloud-event-kafka.binding';
import { DeadLetterPublisher } from '@meridian/infrastructure/kafka/dead-letter.publisher';
import { KafkaBatchTransport } from '@meridian/infrastructure/kafka/kafka-batch.transport';
import { KAFKA_CLIENT } from '@meridian/infrastructure/kafka/kafka-client';
import { KafkaEventRelay } from '@meridian/infrastructure/kafka/kafka-event.relay';
import { registerKafkaLagGauges } from '@meridian/infrastructure/kafka/kafka-lag.gauges';
import { METRICS_REGISTRY } from '@meridian/infrastructure/metrics/metrics-registry';
import type { Registry } from 'prom-client';
import { KafkaInboundHandler } from '@meridian/infrastructure/kafka/kafka-inbound.handler';
import { KafkaMailboxHandler } from '@meridian/infrastructure/kafka/kafka-mailbox.handler';
import { kafkaConsumerGroups, type KafkaTopics } from '@meridian/infrastructure/kafka/kafka-topics';
import { KAFKA_PRODUCER, KAFKA_READINESS, KAFKA_TOPICS, KafkaModule, requireKafka, type KafkaReadiness } from '@meridian/infrastructure/kafka/kafka.module';
import { MetricsModule } from '@meridian/infrastructure/metrics';
import { RuntimeMetricsFollower } from '@meridian/infrastructure/metrics/runtime-metrics.follower';
import { LeaderLock } from '@meridian/infrastructure/platform/leader-lock';
import { PlatformModule } from '@meridian/infrastructure/platform/platform.module';
import { READINESS_CHECKS, type ReadinessCheck } from '@meridian/infrastructure/platform/readiness';
import { ReadModelsModule } from '@meridian/infrastructure/read-models';
import { RedisRealtimeRelay } from '@meridian/infrastructure/realtime/redis-realtime.publisher';
import { RedisTokenStream } from '@meridian/infrastructure/realtime/redis-token.stream';
import { SqlTriggerStateStore } from '@meridian/infrastructure/triggers/sql-trigger-state.store';
import { OperationsHttpModule } from '@meridian/infrastructure/operations/operations-http.module';
import {
  AGENT_ROUTER,
  AGENT_RUNTIME,
  PLATFORM_HEALTH_REPORTER,
  RUNTIME_CHECKPOINTS,
  RUNTIME_DEADLINES,
  RuntimeModule,
  runtimeLogger,
  TRIGGER_ENGINE,
} from '../runtime.module';
import { INBOUND_PATTERN, MAILBOX_PATTERN, RuntimeKafkaController } from './runtime-kafka.controller';

export const RUNTIME_TRANSPORT = Symbol('RuntimeKafkaTransport');
const RUNTIME_LEADER = Symbol('RuntimeLeaderLock');
const KAFKA_EVENT_RELAY = Symbol('KafkaEventRelay');
const REDIS_REALTIME_RELAY = Symbol('RedisRealtimeRelay');
const KAFKA_LAG_GAUGES = Symbol('KafkaLagGauges');

export function requireRedis(config: MeridianConfig): { url: string; prefix: string } {
  if (config.redis === null) throw new Error('MERIDIAN_REDIS_URL is required in the distributed mode');
  return config.redis;
}

/** The leader lock lives in the read models' PostgreSQL (the event store may be KurrentDB). */
function requirePostgres(config: MeridianConfig): { url: string; schema: string } {
  if (config.readModels.kind !== 'postgres') throw new Error('the distributed mode needs MERIDIAN_READ_MODELS=postgres: its apps share the read models');
  return { url: config.readModels.url, schema: config.readModels.schema };
}

/**
 * Starts a runtime replica. Every replica consumes `meridian.inbound` and its share of
 * `meridian.mailbox` (the consumer groups split the partitions); the work that must run once per
 * deployment — the agent router, the trigger engine, the deadlines, the platform-health reporter,
 * the Kafka relay and the Redis relay — runs on the replica holding the leader lock, and moves to
 * another replica when that one dies.
 */
@Injectable()
class DistributedRuntimeLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(RUNTIME_CHECKPOINTS) private readonly checkpoints: SqlCheckpointStore,
    @Inject(TRIGGER_STATE_STORE) private readonly triggerStates: SqlTriggerStateStore,
    @Inject(AGENT_RUNTIME) private readonly runtime: AgentRuntime,
    @Inject(RUNTIME_LEADER) private readonly leader: LeaderLock,
    @Inject(RUNTIME_TRANSPORT) private readonly transport: KafkaBatchTransport,
    @Inject(TOKEN_STREAM) private readonly tokens: RedisTokenStream,
    @Inject(KAFKA_LAG_GAUGES) private readonly lagGauges: { close(): Promise<void> },
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.checkpoints.init();
    await this.triggerStates.init();
    await this.tokens.start();
    await this.runtime.start({ follow: false });
    this.leader.start();
  }

  async onModuleDestroy(): Promise<void> {
    // Consumers first: nothing new reaches the workers, and unfinished batches stay uncommitted.
    await this.transport.close();
    await this.leader.stop();
    await this.runtime.stop();
    await this.tokens.stop();
    await this.lagGauges.close();
  }
}

@Module({})
export class RuntimeAppModule {
  static forRoot(config: MeridianConfig) {
    const kafka = requireKafka(config);
    const redis = requireRedis(config);
    const pg = requirePostgres(config);
    const groups = kafkaConsumerGroups(kafka.topicPrefix);
    return {
      module: RuntimeAppModule,
      // Global so that the operations module's health controller sees this app's readiness checks.
      global: true,
      exports: [READINESS_CHECKS],
      imports: [
        PlatformModule.forRoot(config),
        ReadModelsModule.forRoot({ database: config.readModels.kind === 'sqlite' ? { type: 'sqlite', path: config.readModels.path } : { type: 'postgres', url: config.readModels.url, schema: config.readModels.schema } }),
        KafkaModule.forRoot('runtime'),
        MetricsModule.forRoot({ runtime: 'leader' }),
        OperationsHttpModule,
        RuntimeModule.forDistributed({
          providers: [
            {
              provide: TOKEN_STREAM,
              useFactory: (logger: PinoLogger) => new RedisTokenStream({ redis: redis.url, prefix: redis.prefix, onError: (error, context) => logger.warn({ err: error, context }, 'token stream: redis failure') }),
              inject: [PinoLogger],
            },
          ],
        }),
      ],
      controllers: [RuntimeKafkaController],
      providers: [
        {
          provide: RUNTIME_TRANSPORT,
          useFactory: (client: Kafka, topics: KafkaTopics, logger: PinoLogger) =>
            new KafkaBatchTransport(
              client,
              [
                { pattern: INBOUND_PATTERN, topic: topics.inbound, groupId: groups.runtimeInbound, partitionsConsumedConcurrently: kafka.partitions.inbound },
                { pattern: MAILBOX_PATTERN, topic: topics.mailbox, groupId: groups.runtimeMailbox, partitionsConsumedConcurrently: kafka.partitions.mailbox },
              ],
              { info: (fields, message) => logger.info(fields, message), error: (fields, message) => logger.error(fields, message) },
            ),
          inject: [KAFKA_CLIENT, KAFKA_TOPICS, PinoLogger],
        },
        {
          provide: KafkaInboundHandler,
          useFactory: (inbound: InboundEventsPort, store: EventStore, deadLetters: DeadLetterPublisher, logger: PinoLogger) =>
            new KafkaInboundHandler({
              inbound,
              store,
              decode: (message) => decodeKafkaCloudEvents(message),
              deadLetters,
              consumerGroup: groups.runtimeInbound,
              tenantId: config.tenantId,
              maxAttempts: kafka.maxAttempts,
              retryBaseDelayMs: kafka.retryBaseDelayMs,
              logger: runtimeLogger(logger),
            }),
          inject: [INBOUND_EVENTS, EVENT_STORE, DeadLetterPublisher, PinoLogger],
        },
        {
          provide: KafkaMailboxHandler,
          useFactory: (runtime: AgentRuntime, deadLetters: DeadLetterPublisher, logger: PinoLogger) =>
            new KafkaMailboxHandler({ runtime, deadLetters, consumerGroup: groups.runtimeMailbox, logger: runtimeLogger(logger) }),
          inject: [AGENT_RUNTIME, DeadLetterPublisher, PinoLogger],
        },
        {
          provide: KAFKA_EVENT_RELAY,
          useFactory: (store: EventStore, checkpoints: SqlCheckpointStore, producer: Producer, topics: KafkaTopics, logger: PinoLogger) =>
            new KafkaEventRelay({ store, checkpoints, producer, topics, logger: runtimeLogger(logger) }),
          inject: [EVENT_STORE, RUNTIME_CHECKPOINTS, KAFKA_PRODUCER, KAFKA_TOPICS, PinoLogger],
        },
        {
          provide: REDIS_REALTIME_RELAY,
          useFactory: (store: EventStore, logger: PinoLogger) =>
            new RedisRealtimeRelay({ redis: redis.url, prefix: redis.prefix, store, onError: (error, context) => logger.warn({ err: error, context }, 'realtime relay: failure') }),
          inject: [EVENT_STORE, PinoLogger],
        },
        {
          provide: RUNTIME_LEADER,
          useFactory: (
            router: AgentRouter,
            deadlines: RuntimeDeadlines,
            triggers: TriggerEngine,
            health: PlatformHealthReporter,
            kafkaRelay: KafkaEventRelay,
            realtimeRelay: RedisRealtimeRelay,
            metrics: RuntimeMetricsFollower,
            logger: PinoLogger,
          ) =>
            new LeaderLock({
              url: pg.url,
              name: `runtime:${pg.schema}:${kafka.topicPrefix}`,
              logger: runtimeLogger(logger),
              onAcquired: async () => {
                await kafkaRelay.start();
                await realtimeRelay.start();
                await router.start();
                await deadlines.start();
                await triggers.start();
                await health.start();
                // The runtime's counters (decisions, actions…) come from the event stream: counted
                // by the leader only, so a sum over the replicas counts each decision once.
                await metrics.start();
              },
              onReleased: async () => {
                await metrics.stop();
                await health.stop();
                await triggers.stop();
                await deadlines.stop();
                await router.stop();
                await realtimeRelay.stop();
                await kafkaRelay.stop();
              },
            }),
          inject: [AGENT_ROUTER, RUNTIME_DEADLINES, TRIGGER_ENGINE, PLATFORM_HEALTH_REPORTER, KAFKA_EVENT_RELAY, REDIS_REALTIME_RELAY, RuntimeMetricsFollower, PinoLogger],
        },
        {
          provide: KAFKA_LAG_GAUGES,
          useFactory: (registry: Registry, client: Kafka, topics: KafkaTopics, store: EventStore, relay: KafkaEventRelay, leader: LeaderLock, logger: PinoLogger) =>
            registerKafkaLagGauges(registry, {
              kafka: client,
              consumers: [
                { groupId: groups.runtimeInbound, topic: topics.inbound },
                { groupId: groups.runtimeMailbox, topic: topics.mailbox },
              ],
              relayLag: async () => (leader.isLeader ? Math.max(0, (await store.headPosition()) - relay.position) : null),
              onError: (error) => logger.warn({ err: error }, 'kafka lag metrics not read'),
            }),
          inject: [METRICS_REGISTRY, KAFKA_CLIENT, KAFKA_TOPICS, EVENT_STORE, KAFKA_EVENT_RELAY, RUNTIME_LEADER, PinoLogger],
        },
        {
          provide: READINESS_CHECKS,
          useFactory: (readiness: KafkaReadiness, transport: KafkaBatchTransport, leader: LeaderLock): ReadinessCheck[] => [
            readiness,
            {
              name: 'kafkaConsumers',
              check: async () => {
                if (!transport.ready) throw new Error('a Kafka consumer has not joined its group');
                return { leader: leader.isLeader };
              },
            },
          ],
          inject: [KAFKA_READINESS, RUNTIME_TRANSPORT, RUNTIME_LEADER],
        },
        DistributedRuntimeLifecycle,
      ],
    };
  }
}
