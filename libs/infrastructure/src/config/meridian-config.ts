import { Type, type Static } from '@sinclair/typebox';
import { join, resolve } from 'node:path';
import { EMPTY_LLM_PRICE_TABLE, parseLlmPriceTable, type LlmPriceTable } from '../llm/llm-price-table';
import { SchemaValidationError, SchemaValidator } from '../validation/schema-validator';

/**
 * Every setting Meridian reads from the environment, validated at start. A bad value stops the
 * process with a message naming the variable, rather than failing later in an obscure place.
 */
export const ConfigEnvSchema = Type.Object(
  {
    PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
    HOST: Type.String({ default: '0.0.0.0' }),
    LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
    MERIDIAN_DATA_DIR: Type.String({ minLength: 1, default: './data' }),
    MERIDIAN_EVENT_STORE: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres'), Type.Literal('kurrentdb')], { default: 'sqlite' }),
    MERIDIAN_KURRENTDB_URL: Type.Optional(Type.String({ pattern: '^(kurrentdb|kdb|esdb)(\\+discover)?://', description: 'KurrentDB connection string, e.g. kurrentdb://host:2113?tls=false' })),
    MERIDIAN_READ_MODELS: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], { default: 'sqlite' }),
    MERIDIAN_POSTGRES_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
    MERIDIAN_POSTGRES_SCHEMA: Type.String({ pattern: '^[a-z_][a-z0-9_]*$', default: 'public' }),
    MERIDIAN_ADMIN_API_KEY: Type.Optional(Type.String({ minLength: 16 })),
    MERIDIAN_TENANT_ID: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', default: 'default' }),
    MERIDIAN_MAX_BATCH_EVENTS: Type.Integer({ minimum: 1, maximum: 100000, default: 1000 }),
    MERIDIAN_MAX_BODY_BYTES: Type.Integer({ minimum: 1024, default: 5 * 1024 * 1024 }),
    MERIDIAN_IDEMPOTENCY_TTL_SECONDS: Type.Integer({ minimum: 1, default: 86400 }),
    MERIDIAN_CONSISTENCY_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 5000 }),
    MERIDIAN_DEFAULT_MAX_HOPS: Type.Integer({ minimum: 1, default: 8 }),
    MERIDIAN_DEFAULT_MAX_DECISIONS_PER_CHAIN: Type.Integer({ minimum: 1, default: 20 }),
    MERIDIAN_DEFAULT_MAX_TOKENS_PER_CHAIN: Type.Integer({ minimum: 1, default: 20_000 }),
    MERIDIAN_DEFAULT_MAX_COST_PER_CHAIN: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    MERIDIAN_MONITOR_LAG_EVENTS: Type.Integer({ minimum: 1, default: 10_000 }),
    MERIDIAN_TRIGGER_ALLOWED_LATENESS_MS: Type.Integer({ minimum: 0, default: 5_000 }),
    MERIDIAN_TRIGGER_TICK_MS: Type.Integer({ minimum: 10, default: 1_000 }),
    MERIDIAN_LLM_PRICES: Type.Optional(Type.String({ description: 'JSON price table: { "<model> or <provider>/<model>": { "inputUsdPerMillion": 0.15, "outputUsdPerMillion": 0.6 } }' })),
    MERIDIAN_LLM_KEYED_BASE_URLS: Type.Optional(Type.String({ description: 'Comma-separated base URLs (besides the providers\' defaults) that may receive the deployment\'s LLM API keys' })),
    MERIDIAN_LLM_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 60_000 }),
    MERIDIAN_LLM_MAX_RETRIES: Type.Integer({ minimum: 0, maximum: 10, default: 2 }),
    MERIDIAN_LLM_RETRY_BASE_DELAY_MS: Type.Integer({ minimum: 0, default: 500 }),
    MERIDIAN_WEBHOOK_RETRIES: Type.Integer({ minimum: 0, maximum: 20, default: 4 }),
    MERIDIAN_WEBHOOK_RETRY_MIN_DELAY_MS: Type.Integer({ minimum: 0, default: 200 }),
    MERIDIAN_WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 10_000 }),
    MERIDIAN_KAFKA_BROKERS: Type.Optional(Type.String({ pattern: '^[^,\\s]+:[0-9]+(,[^,\\s]+:[0-9]+)*$', description: 'host:port list, comma-separated (distributed mode)' })),
    MERIDIAN_KAFKA_CLIENT_ID: Type.String({ pattern: '^[A-Za-z0-9._-]{1,100}$', default: 'meridian' }),
    MERIDIAN_KAFKA_TOPIC_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}$', default: 'meridian' }),
    MERIDIAN_KAFKA_PARTITIONS_INBOUND: Type.Integer({ minimum: 1, maximum: 10_000, default: 6 }),
    MERIDIAN_KAFKA_PARTITIONS_EVENTS: Type.Integer({ minimum: 1, maximum: 10_000, default: 6 }),
    MERIDIAN_KAFKA_PARTITIONS_MAILBOX: Type.Integer({ minimum: 1, maximum: 10_000, default: 12 }),
    MERIDIAN_KAFKA_PARTITIONS_DLQ: Type.Integer({ minimum: 1, maximum: 10_000, default: 1 }),
    MERIDIAN_KAFKA_REPLICATION_FACTOR: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
    MERIDIAN_KAFKA_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
    MERIDIAN_KAFKA_RETRY_BASE_DELAY_MS: Type.Integer({ minimum: 0, default: 200 }),
    MERIDIAN_REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
    MERIDIAN_REDIS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9._-]{1,100}$', default: 'meridian' }),
    MERIDIAN_WEBHOOK_SECRETS: Type.Optional(
      Type.String({
        pattern: '^[a-z0-9][a-z0-9._-]{0,63}=[^,]{16,}(,[a-z0-9][a-z0-9._-]{0,63}=[^,]{16,})*$',
        description: 'source=secret pairs, comma-separated; secrets of at least 16 characters',
      }),
    ),
  },
  { additionalProperties: true },
);

export type ConfigEnv = Static<typeof ConfigEnvSchema>;

export interface MeridianConfig {
  readonly port: number;
  readonly host: string;
  readonly logLevel: ConfigEnv['LOG_LEVEL'];
  readonly dataDir: string;
  readonly eventStore:
    | { readonly kind: 'sqlite'; readonly path: string }
    | { readonly kind: 'postgres'; readonly url: string; readonly schema: string }
    | { readonly kind: 'kurrentdb'; readonly url: string };
  readonly readModels: { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string; readonly schema: string };
  readonly adminApiKey: string | undefined;
  readonly tenantId: string;
  readonly maxBatchEvents: number;
  readonly maxBodyBytes: number;
  readonly idempotencyTtlSeconds: number;
  /** How long a write waits for its read models to catch up before answering (read-your-writes). */
  readonly consistencyTimeoutMs: number;
  /** HMAC secret per webhook source (`POST /api/v1/webhooks/:source`). */
  readonly webhookSecrets: ReadonlyMap<string, string>;
  /** Projection lag (events) above which `meridian.projection.lagging` is reported. */
  readonly monitorLagEvents: number;
  /** Chain budgets of agents defined without them. */
  readonly defaultBudgets: { readonly maxHops: number; readonly maxDecisionsPerChain: number; readonly maxTokensPerChain: number; readonly maxCostPerChain?: number };
  readonly llm: { readonly keyedBaseUrls: readonly string[]; readonly prices: LlmPriceTable; readonly timeoutMs: number; readonly maxRetries: number; readonly retryBaseDelayMs: number };
  /**
   * The trigger engine: how late an event (behind the newest event time a trigger has seen) may be
   * and still count, and how often its clock closes windows and fires schedules.
   */
  readonly triggers: { readonly allowedLatenessMs: number; readonly tickMs: number };
  /**
   * Distributed mode (gateway, runtime and projector as separate apps): the Kafka cluster linking
   * them and the Redis that fans realtime updates out. Absent in standalone mode.
   */
  readonly kafka: KafkaConfig | null;
  readonly redis: { readonly url: string; readonly prefix: string } | null;
  /** Outbound `call-webhook` actions. */
  readonly outboundWebhooks: { readonly retries: number; readonly minDelayMs: number; readonly timeoutMs: number };
}

export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Topics are `<prefix>.inbound`, `<prefix>.events`, `<prefix>.mailbox`, `<prefix>.dlq`; consumer groups `<prefix>.<app>.<role>`. */
  readonly topicPrefix: string;
  readonly partitions: { readonly inbound: number; readonly events: number; readonly mailbox: number; readonly dlq: number };
  readonly replicationFactor: number;
  /** Attempts at a failing message (with exponential backoff from `retryBaseDelayMs`) before it is dead-lettered. */
  readonly maxAttempts: number;
  readonly retryBaseDelayMs: number;
}

export const MERIDIAN_CONFIG = Symbol('MeridianConfig');

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the configuration; throws ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): MeridianConfig {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigEnvSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  let parsed: ConfigEnv;
  try {
    parsed = new SchemaValidator({ coerceTypes: true, useDefaults: true }).validate(ConfigEnvSchema, raw);
  } catch (error) {
    if (error instanceof SchemaValidationError) {
      throw new ConfigError(
        'Invalid configuration:\n' + error.issues.map((i) => `  ${i.path.replace(/^\//, '') || '(root)'}: ${i.message}`).join('\n'),
      );
    }
    throw error;
  }
  const needsPostgres = parsed.MERIDIAN_EVENT_STORE === 'postgres' || parsed.MERIDIAN_READ_MODELS === 'postgres';
  if (needsPostgres && !parsed.MERIDIAN_POSTGRES_URL) {
    throw new ConfigError('Invalid configuration:\n  MERIDIAN_POSTGRES_URL: is required when a store is "postgres"');
  }
  if (parsed.MERIDIAN_EVENT_STORE === 'kurrentdb' && !parsed.MERIDIAN_KURRENTDB_URL) {
    throw new ConfigError('Invalid configuration:\n  MERIDIAN_KURRENTDB_URL: is required when MERIDIAN_EVENT_STORE is "kurrentdb"');
  }
  let prices: LlmPriceTable = EMPTY_LLM_PRICE_TABLE;
  if (parsed.MERIDIAN_LLM_PRICES !== undefined) {
    try {
      prices = parseLlmPriceTable(parsed.MERIDIAN_LLM_PRICES);
    } catch (error) {
      throw new ConfigError(`Invalid configuration:\n  MERIDIAN_LLM_PRICES: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const dataDir = resolve(parsed.MERIDIAN_DATA_DIR);
  const pg = (): { kind: 'postgres'; url: string; schema: string } => ({
    kind: 'postgres',
    url: parsed.MERIDIAN_POSTGRES_URL as string,
    schema: parsed.MERIDIAN_POSTGRES_SCHEMA,
  });
  return {
    port: parsed.PORT,
    host: parsed.HOST,
    logLevel: parsed.LOG_LEVEL,
    dataDir,
    eventStore:
      parsed.MERIDIAN_EVENT_STORE === 'sqlite'
        ? { kind: 'sqlite', path: join(dataDir, 'events.sqlite') }
        : parsed.MERIDIAN_EVENT_STORE === 'kurrentdb'
          ? { kind: 'kurrentdb', url: parsed.MERIDIAN_KURRENTDB_URL as string }
          : pg(),
    readModels: parsed.MERIDIAN_READ_MODELS === 'sqlite' ? { kind: 'sqlite', path: join(dataDir, 'read-models.sqlite') } : pg(),
    adminApiKey: parsed.MERIDIAN_ADMIN_API_KEY,
    tenantId: parsed.MERIDIAN_TENANT_ID,
    maxBatchEvents: parsed.MERIDIAN_MAX_BATCH_EVENTS,
    maxBodyBytes: parsed.MERIDIAN_MAX_BODY_BYTES,
    idempotencyTtlSeconds: parsed.MERIDIAN_IDEMPOTENCY_TTL_SECONDS,
    consistencyTimeoutMs: parsed.MERIDIAN_CONSISTENCY_TIMEOUT_MS,
    webhookSecrets: new Map(
      (parsed.MERIDIAN_WEBHOOK_SECRETS ?? '')
        .split(',')
        .filter(Boolean)
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] as const),
    ),
    monitorLagEvents: parsed.MERIDIAN_MONITOR_LAG_EVENTS,
    defaultBudgets: {
      maxHops: parsed.MERIDIAN_DEFAULT_MAX_HOPS,
      maxDecisionsPerChain: parsed.MERIDIAN_DEFAULT_MAX_DECISIONS_PER_CHAIN,
      maxTokensPerChain: parsed.MERIDIAN_DEFAULT_MAX_TOKENS_PER_CHAIN,
      ...(parsed.MERIDIAN_DEFAULT_MAX_COST_PER_CHAIN !== undefined && { maxCostPerChain: parsed.MERIDIAN_DEFAULT_MAX_COST_PER_CHAIN }),
    },
    llm: {
      keyedBaseUrls: (parsed.MERIDIAN_LLM_KEYED_BASE_URLS ?? '').split(',').map((url) => url.trim()).filter((url) => url !== ''),
      prices,
      timeoutMs: parsed.MERIDIAN_LLM_TIMEOUT_MS, maxRetries: parsed.MERIDIAN_LLM_MAX_RETRIES, retryBaseDelayMs: parsed.MERIDIAN_LLM_RETRY_BASE_DELAY_MS },
    triggers: { allowedLatenessMs: parsed.MERIDIAN_TRIGGER_ALLOWED_LATENESS_MS, tickMs: parsed.MERIDIAN_TRIGGER_TICK_MS },
    kafka:
      parsed.MERIDIAN_KAFKA_BROKERS === undefined
        ? null
        : {
            brokers: parsed.MERIDIAN_KAFKA_BROKERS.split(','),
            clientId: parsed.MERIDIAN_KAFKA_CLIENT_ID,
            topicPrefix: parsed.MERIDIAN_KAFKA_TOPIC_PREFIX,
            partitions: {
              inbound: parsed.MERIDIAN_KAFKA_PARTITIONS_INBOUND,
              events: parsed.MERIDIAN_KAFKA_PARTITIONS_EVENTS,
              mailbox: parsed.MERIDIAN_KAFKA_PARTITIONS_MAILBOX,
              dlq: parsed.MERIDIAN_KAFKA_PARTITIONS_DLQ,
            },
            replicationFactor: parsed.MERIDIAN_KAFKA_REPLICATION_FACTOR,
            maxAttempts: parsed.MERIDIAN_KAFKA_MAX_ATTEMPTS,
            retryBaseDelayMs: parsed.MERIDIAN_KAFKA_RETRY_BASE_DELAY_MS,
          },
    redis: parsed.MERIDIAN_REDIS_URL === undefined ? null : { url: parsed.MERIDIAN_REDIS_URL, prefix: parsed.MERIDIAN_REDIS_PREFIX },
    outboundWebhooks: { retries: parsed.MERIDIAN_WEBHOOK_RETRIES, minDelayMs: parsed.MERIDIAN_WEBHOOK_RETRY_MIN_DELAY_MS, timeoutMs: parsed.MERIDIAN_WEBHOOK_TIMEOUT_MS },
  };
}
