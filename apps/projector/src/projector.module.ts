import { Inject, Injectable, Module, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { PROJECTION_MANAGER, type ProjectionManager } from '@meridian/infrastructure/read-models';

/**
 * Runs the projections for as long as the app runs. Stopping happens in onModuleDestroy, before any
 * onApplicationShutdown hook closes the event store or the read-model database under it.
 */
@Injectable()
export class ProjectorLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(@Inject(PROJECTION_MANAGER) private readonly projections: ProjectionManager) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.projections.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.projections.stop();
  }
}

/**
 * The projector: projects the event store into the read models and rebuilds them on demand.
 * Composed with ReadModelsModule.forRoot(…) (which provides PROJECTION_MANAGER) and a module that
 * exports EVENT_STORE (PlatformModule).
 */
@Module({ providers: [ProjectorLifecycle] })
export class ProjectorModule {}
