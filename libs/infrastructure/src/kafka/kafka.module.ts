import { DynamicModule, Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import { PinoLogger } from 'nestjs-pino';
import { MERIDIAN_CONFIG, type KafkaConfig, type MeridianConfig } from '../config/meridian-config';
import type { ReadinessCheck } from '../platform/readiness';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { createKafkaClient, KAFKA_CLIENT } from './kafka-client';
import { ensureKafkaTopics, kafkaTopics, type KafkaTopics } from './kafka-topics';

export const KAFKA_PRODUCER = Symbol('KafkaProducer');
export const KAFKA_TOPICS = Symbol('KafkaTopics');
export const KAFKA_READINESS = Symbol('KafkaReadiness');

export function requireKafka(config: MeridianConfig): KafkaConfig {
  if (config.kafka === null) throw new Error('MERIDIAN_KAFKA_BROKERS is required in the distributed mode');
  return config.kafka;
}

/** `/health/ready` for Kafka: the cluster answers a metadata request (over one admin connection kept open). */
export class KafkaReadiness implements ReadinessCheck {
  readonly name = 'kafka';
  private admin: Admin | null = null;

  constructor(private readonly kafka: Kafka) {}

  async check(): Promise<Record<string, unknown>> {
    this.admin ??= this.kafka.admin();
    const admin = this.admin;
    let timer: NodeJS.Timeout | undefined;
    try {
      await admin.connect();
      const cluster = await Promise.race([
        admin.describeCluster(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('Kafka did not answer within 2 s')), 2_000);
        }),
      ]);
      return { brokers: cluster.brokers.length, controller: cluster.controller };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
  }
}

@Injectable()
class KafkaLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(KAFKA_READINESS) private readonly readiness: KafkaReadiness,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.readiness.close();
    await this.producer.disconnect().catch(() => undefined);
  }
}

/**
 * Kafka for one app of the distributed mode: the client, a connected producer, the topics
 * (created at start with the configured partition counts), a dead-letter publisher and the
 * readiness check. Needs MERIDIAN_CONFIG with `kafka` set.
 */
@Global()
@Module({})
export class KafkaModule {
  static forRoot(app: 'gateway' | 'runtime' | 'projector'): DynamicModule {
    return {
      module: KafkaModule,
      providers: [
        {
          provide: KAFKA_CLIENT,
          useFactory: (config: MeridianConfig, logger: PinoLogger) => {
            logger.setContext('Kafka');
            return createKafkaClient(requireKafka(config), app, {
              error: (fields, message) => logger.error(fields, message),
              warn: (fields, message) => logger.warn(fields, message),
              info: (fields, message) => logger.info(fields, message),
              debug: (fields, message) => logger.debug(fields, message),
            });
          },
          inject: [MERIDIAN_CONFIG, PinoLogger],
        },
        {
          provide: KAFKA_TOPICS,
          useFactory: async (config: MeridianConfig, kafka: Kafka, logger: PinoLogger): Promise<KafkaTopics> => {
            const ensured = await ensureKafkaTopics(kafka, requireKafka(config));
            logger.info({ topics: ensured }, 'kafka topics ready');
            return kafkaTopics(requireKafka(config).topicPrefix);
          },
          inject: [MERIDIAN_CONFIG, KAFKA_CLIENT, PinoLogger],
        },
        {
          provide: KAFKA_PRODUCER,
          useFactory: async (kafka: Kafka): Promise<Producer> => {
            // Idempotent: a retried send after a lost acknowledgement is not written twice. The
            // partitioner is kafkajs' default (Java client compatible: a key lands on the partition
            // any other client picks for it), named so that kafkajs does not warn at every start.
            const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
            await producer.connect();
            return producer;
          },
          inject: [KAFKA_CLIENT],
        },
        {
          provide: DeadLetterPublisher,
          useFactory: (producer: Producer, topics: KafkaTopics) => new DeadLetterPublisher(producer, topics.dlq),
          inject: [KAFKA_PRODUCER, KAFKA_TOPICS],
        },
        { provide: KAFKA_READINESS, useFactory: (kafka: Kafka) => new KafkaReadiness(kafka), inject: [KAFKA_CLIENT] },
        KafkaLifecycle,
      ],
      exports: [KAFKA_CLIENT, KAFKA_TOPICS, KAFKA_PRODUCER, DeadLetterPublisher, KAFKA_READINESS],
    };
  }
}
