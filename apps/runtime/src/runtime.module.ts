import { DynamicModule, Global, Inject, Injectable, Module, type OnApplicationBootstrap, type OnModuleDestroy, type Provider } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { EVENT_STORE, type EventStore } from '@meridian/domain';
import {
  AgentRouter,
  AgentRuntime,
  INBOUND_EVENTS,
  IngestEventsService,
  InProcessTokenStream,
  LLM_DECIDER,
  PlatformHealthReporter,
  RuntimeDeadlines,
  TOKEN_STREAM,
  TRIGGER_STATE_STORE,
  TriggerEngine,
  WEBHOOK_CLIENT,
  type InboundEventsPort,
  type LlmDecider,
  type RuntimeLogger,
  type TokenStream,
  type WebhookClient,
} from '@meridian/agents';
import { SqlCheckpointStore } from '@meridian/infrastructure/checkpoints/sql-checkpoint.store';
import { MERIDIAN_CONFIG, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { LangChainLlmDecider } from '@meridian/infrastructure/llm/langchain-llm-decider';
import { LlmReasoningEngine } from '@meridian/infrastructure/llm/llm-reasoning-engine';
import { METRICS_REGISTRY } from '@meridian/infrastructure/metrics/metrics-registry';
import { TriggerMetrics } from '@meridian/infrastructure/metrics/trigger-metrics';
import { HttpWebhookClient } from '@meridian/infrastructure/outbound/http-webhook.client';
import { SqlTriggerStateStore } from '@meridian/infrastructure/triggers/sql-trigger-state.store';
import { PROJECTION_MANAGER, READ_MODEL_DATA_SOURCE, type ProjectionManager } from '@meridian/infrastructure/read-models';

export const AGENT_ROUTER = Symbol('AgentRouter');
export const AGENT_RUNTIME = Symbol('AgentRuntime');
export const RUNTIME_DEADLINES = Symbol('RuntimeDeadlines');
export const PLATFORM_HEALTH_REPORTER = Symbol('PlatformHealthReporter');
export const TRIGGER_ENGINE = Symbol('TriggerEngine');
export const RUNTIME_CHECKPOINTS = Symbol('RuntimeCheckpoints');

/** The runtime's logging port over the app's structured logger. */
export function runtimeLogger(logger: PinoLogger): RuntimeLogger {
  return {
    info: (fields, message) => logger.info(fields, message),
    warn: (fields, message) => logger.warn(fields, message),
    error: (fields, message) => logger.error(fields, message),
  };
}

/**
 * Starts the agent loop once the app is up: the router (ingested events, messages and trigger
 * firings → mailboxes), the runtime (mailboxes → decisions → actions), the deadlines (approval
 * timeouts, request timeouts) and the trigger engine (events and time → firings). Stopped in onModuleDestroy, before the store closes under them.
 */
@Injectable()
export class RuntimeLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(RUNTIME_CHECKPOINTS) private readonly checkpoints: SqlCheckpointStore,
    @Inject(AGENT_ROUTER) private readonly router: AgentRouter,
    @Inject(AGENT_RUNTIME) private readonly runtime: AgentRuntime,
    @Inject(RUNTIME_DEADLINES) private readonly deadlines: RuntimeDeadlines,
    @Inject(PLATFORM_HEALTH_REPORTER) private readonly health: PlatformHealthReporter,
    @Inject(TRIGGER_STATE_STORE) private readonly triggerStates: SqlTriggerStateStore,
    @Inject(TRIGGER_ENGINE) private readonly triggers: TriggerEngine,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.checkpoints.init();
    await this.triggerStates.init();
    await this.router.start();
    await this.runtime.start();
    await this.deadlines.start();
    await this.triggers.start();
    await this.health.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.health.stop();
    await this.triggers.stop();
    await this.deadlines.stop();
    await this.router.stop();
    await this.runtime.stop();
  }
}

/** What both modes share: the runtime's parts, each started by the mode's lifecycle. */
const RUNTIME_PROVIDERS: Provider[] = [
    { provide: INBOUND_EVENTS, useFactory: (store: EventStore) => new IngestEventsService(store), inject: [EVENT_STORE] },
    { provide: RUNTIME_CHECKPOINTS, useFactory: (dataSource: DataSource) => new SqlCheckpointStore(dataSource), inject: [READ_MODEL_DATA_SOURCE] },
    {
      provide: WEBHOOK_CLIENT,
      useFactory: (config: MeridianConfig) =>
        new HttpWebhookClient({ retries: config.outboundWebhooks.retries, minTimeoutMs: config.outboundWebhooks.minDelayMs, timeoutMs: config.outboundWebhooks.timeoutMs }),
      inject: [MERIDIAN_CONFIG],
    },
    {
      provide: LLM_DECIDER,
      useFactory: (config: MeridianConfig) =>
        new LangChainLlmDecider(
          new LlmReasoningEngine({ keyedBaseUrls: config.llm.keyedBaseUrls, priceTable: config.llm.prices, timeoutMs: config.llm.timeoutMs, maxRetries: config.llm.maxRetries, retryBaseDelayMs: config.llm.retryBaseDelayMs }),
        ),
      inject: [MERIDIAN_CONFIG],
    },
    {
      provide: AGENT_ROUTER,
      useFactory: (store: EventStore, checkpoints: SqlCheckpointStore, logger: PinoLogger) =>
        new AgentRouter({ store, checkpoints, onError: (error) => logger.error({ err: error }, 'agent router batch failed; retrying') }),
      inject: [EVENT_STORE, RUNTIME_CHECKPOINTS, PinoLogger],
    },
    {
      provide: AGENT_RUNTIME,
      useFactory: (store: EventStore, checkpoints: SqlCheckpointStore, webhooks: WebhookClient, llm: LlmDecider, tokens: TokenStream, logger: PinoLogger) =>
        new AgentRuntime({ store, checkpoints, webhooks, llm, tokens, logger: runtimeLogger(logger) }),
      inject: [EVENT_STORE, RUNTIME_CHECKPOINTS, WEBHOOK_CLIENT, LLM_DECIDER, TOKEN_STREAM, PinoLogger],
    },
    {
      provide: RUNTIME_DEADLINES,
      useFactory: (store: EventStore, logger: PinoLogger) => new RuntimeDeadlines({ store, logger: runtimeLogger(logger) }),
      inject: [EVENT_STORE, PinoLogger],
    },
    {
      // Halted chains, failed decisions and lagging projections as meridian.* events (docs/agent-kinds.md).
      provide: PLATFORM_HEALTH_REPORTER,
      useFactory: (store: EventStore, checkpoints: SqlCheckpointStore, inbound: InboundEventsPort, projections: ProjectionManager, logger: PinoLogger, config: MeridianConfig) =>
        new PlatformHealthReporter({
          store,
          checkpoints,
          inbound,
          logger: runtimeLogger(logger),
          projectionLag: {
            thresholdEvents: config.monitorLagEvents,
            sample: async () => (await projections.status()).map((status) => ({ projection: status.name, lag: status.lag, checkpoint: status.checkpoint, head: status.head })),
          },
        }),
      inject: [EVENT_STORE, RUNTIME_CHECKPOINTS, INBOUND_EVENTS, PROJECTION_MANAGER, PinoLogger, MERIDIAN_CONFIG],
    },
    { provide: TRIGGER_STATE_STORE, useFactory: (dataSource: DataSource) => new SqlTriggerStateStore(dataSource), inject: [READ_MODEL_DATA_SOURCE] },
    {
      provide: TRIGGER_ENGINE,
      useFactory: (store: EventStore, states: SqlTriggerStateStore, config: MeridianConfig, registry: Registry, logger: PinoLogger) =>
        new TriggerEngine({
          store,
          states,
          clock: () => Date.now(),
          allowedLatenessMs: config.triggers.allowedLatenessMs,
          tickMs: config.triggers.tickMs,
          maxHops: config.defaultBudgets.maxHops,
          logger: runtimeLogger(logger),
          observer: new TriggerMetrics(registry),
        }),
      inject: [EVENT_STORE, TRIGGER_STATE_STORE, MERIDIAN_CONFIG, METRICS_REGISTRY, PinoLogger],
    },
];

const RUNTIME_EXPORTS = [INBOUND_EVENTS, TOKEN_STREAM, AGENT_ROUTER, AGENT_RUNTIME, RUNTIME_DEADLINES, TRIGGER_ENGINE, TRIGGER_STATE_STORE, RUNTIME_CHECKPOINTS, PLATFORM_HEALTH_REPORTER];

/**
 * The runtime: takes inbound domain events and appends them idempotently, routes them and the
 * messages of people and agents to the agents' mailboxes, runs decisions and their actions.
 *
 * `standalone()`: everything runs in this process, fed by the store (the gateway hands it events
 * through INBOUND_EVENTS). `forDistributed(…)`: the app module of apps/runtime adds the Kafka
 * consumers, the relays and the leader lock, with its own lifecycle and token stream.
 */
@Global()
@Module({})
export class RuntimeModule {
  static standalone(): DynamicModule {
    return {
      module: RuntimeModule,
      providers: [...RUNTIME_PROVIDERS, { provide: TOKEN_STREAM, useFactory: () => new InProcessTokenStream() }, RuntimeLifecycle],
      exports: RUNTIME_EXPORTS,
    };
  }

  /** The shared parts; the caller provides TOKEN_STREAM and starts them. */
  static forDistributed(extra: { providers: Provider[] }): DynamicModule {
    return { module: RuntimeModule, providers: [...RUNTIME_PROVIDERS, ...extra.providers], exports: RUNTIME_EXPORTS };
  }
}
