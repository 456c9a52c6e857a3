import { Global, Inject, Injectable, Logger, Module, type DynamicModule, type OnApplicationBootstrap, type OnModuleDestroy, type Provider } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { EVENT_STORE, type EventStore } from '@meridian/domain';
import { PROJECTION_MANAGER, type ProjectionManager } from '../read-models';
import { createMetricsRegistry, METRICS_REGISTRY } from './metrics-registry';
import { registerReadSideGauges } from './read-side.gauges';
import { RuntimeMetricsFollower } from './runtime-metrics.follower';

/**
 * Starts following the store once the app is up, and stops in onModuleDestroy, before the platform
 * closes the event store under the subscription.
 */
@Injectable()
class RuntimeMetricsLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(@Inject(RuntimeMetricsFollower) private readonly follower: RuntimeMetricsFollower) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.follower.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.follower.stop();
  }
}

/**
 * The process's Prometheus registry (METRICS_REGISTRY): process metrics, the runtime's metrics
 * derived from the event store, and projection/store gauges read at scrape time. Global, so the
 * gateway's /metrics endpoint and HTTP metrics share it. Needs EVENT_STORE (PlatformModule) and
 * PROJECTION_MANAGER (ReadModelsModule).
 */
const REGISTRY_PROVIDER: Provider = {
  provide: METRICS_REGISTRY,
  useFactory: (store: EventStore, projections: ProjectionManager): Registry => {
    const registry = createMetricsRegistry();
    const logger = new Logger('Metrics');
    registerReadSideGauges(registry, { store, projections, onError: (error) => logger.warn({ err: error }, 'metrics: reading projection or store state failed') });
    return registry;
  },
  inject: [EVENT_STORE, PROJECTION_MANAGER],
};

const FOLLOWER_PROVIDERS: Provider[] = [
  {
    provide: RuntimeMetricsFollower,
    useFactory: (store: EventStore, registry: Registry) => {
      const logger = new Logger('Metrics');
      return new RuntimeMetricsFollower(store, registry, { onError: (error) => logger.error({ err: error }, 'runtime metrics follower failure') });
    },
    inject: [EVENT_STORE, METRICS_REGISTRY],
  },
  RuntimeMetricsLifecycle,
];

// Providers only through forRoot: Nest adds a dynamic module's providers to the decorator's.
@Global()
@Module({})
export class MetricsModule {
  /**
   * `runtime: false` leaves out the runtime's metrics derived from the event stream (decisions,
   * tokens, messages…): in the distributed mode only the runtime app reports them, so a Prometheus
   * summing over every app does not count each decision three times. `runtime: 'leader'` provides
   * the follower (RuntimeMetricsFollower) without starting it: the runtime app runs it on the
   * replica holding the leader lock only, so replicas do not each count every decision.
   */
  static forRoot(options: { runtime: boolean | 'leader' }): DynamicModule {
    const runtime = options.runtime === true ? FOLLOWER_PROVIDERS : options.runtime === 'leader' ? [FOLLOWER_PROVIDERS[0] as Provider] : [];
    return { module: MetricsModule, providers: [REGISTRY_PROVIDER, ...runtime], exports: [METRICS_REGISTRY, ...(options.runtime === 'leader' ? [RuntimeMetricsFollower] : [])] };
  }
}
