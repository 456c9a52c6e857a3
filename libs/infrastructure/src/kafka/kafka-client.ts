import { Kafka, logLevel as KafkaLogLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { KafkaConfig } from '../config/meridian-config';

export const KAFKA_CLIENT = Symbol('KafkaClient');

/** Where the client's own log lines go (the app's pino logger). */
export interface KafkaLogSink {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

/**
 * One kafkajs client per app, logging through the app's structured logger. The client itself
 * holds no connection; producers, consumers and admins made from it do.
 */
export function createKafkaClient(config: KafkaConfig, app: string, log: KafkaLogSink): Kafka {
  const creator: logCreator =
    () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, ...fields } = entry;
      const record = { ...fields, kafkaNamespace: namespace };
      if (level === KafkaLogLevel.ERROR) log.error(record, message);
      else if (level === KafkaLogLevel.WARN) log.warn(record, message);
      else if (level === KafkaLogLevel.INFO) log.info(record, message);
      else log.debug(record, message);
    };
  return new Kafka({
    clientId: `${config.clientId}-${app}`,
    brokers: [...config.brokers],
    logLevel: KafkaLogLevel.WARN,
    logCreator: creator,
    // Reconnects for as long as the app runs: a broker restart must not end the process.
    retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: Number.MAX_SAFE_INTEGER },
    connectionTimeout: 3_000,
  });
}
