import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { DataSource } from 'typeorm';
import { EVENT_STORE, type EventStore } from '@meridian/domain';
import { READ_MODEL_READ_DATA_SOURCE } from '../read-models';
import { READINESS_CHECKS, type ReadinessCheck } from '../platform/readiness';
import { Public } from './public.decorator';

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    @Inject(READ_MODEL_READ_DATA_SOURCE) private readonly readModels: DataSource,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Optional() @Inject(READINESS_CHECKS) private readonly extra: readonly ReadinessCheck[] = [],
  ) {}

  /** The process is up and its event loop answers. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Every dependency this app uses answers: the event store, the read-model database, and the app's own (Kafka, Redis…). */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      async () => {
        const check = this.indicator.check('eventStore');
        try {
          return check.up({ head: await this.store.headPosition() });
        } catch (error) {
          return check.down({ message: (error as Error).message });
        }
      },
      async () => {
        const check = this.indicator.check('readModels');
        try {
          await this.readModels.query('select 1');
          return check.up();
        } catch (error) {
          return check.down({ message: (error as Error).message });
        }
      },
      ...(this.extra ?? []).map((dependency) => async () => {
        const check = this.indicator.check(dependency.name);
        try {
          return check.up(await dependency.check());
        } catch (error) {
          return check.down({ message: (error as Error).message });
        }
      }),
    ]);
  }
}
