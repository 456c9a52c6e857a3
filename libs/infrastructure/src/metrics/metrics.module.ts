import { Global, Inject, Injectable, Logger, Module, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
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
@Global()
@Module({
  providers: [
    {
      provide: METRICS_REGISTRY,
      useFactory: (store: EventStore, projections: ProjectionManager): Registry => {
        const registry = createMetricsRegistry();
        const logger = new Logger('Metrics');
        registerReadSideGauges(registry, { store, projections, onError: (error) => logger.warn({ err: error }, 'metrics: reading projection or store state failed') });
        return registry;
      },
      inject: [EVENT_STORE, PROJECTION_MANAGER],
    },
    {
      provide: RuntimeMetricsFollower,
      useFactory: (store: EventStore, registry: Registry) => {
        const logger = new Logger('Metrics');
        return new RuntimeMetricsFollower(store, registry, { onError: (error) => logger.error({ err: error }, 'runtime metrics follower failure') });
      },
      inject: [EVENT_STORE, METRICS_REGISTRY],
    },
    RuntimeMetricsLifecycle,
  ],
  exports: [METRICS_REGISTRY],
})
export class MetricsModule {}
