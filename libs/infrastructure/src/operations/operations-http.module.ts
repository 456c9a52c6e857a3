import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { MetricsHttpModule } from './metrics-http.module';

/**
 * `/health/live`, `/health/ready` and `/metrics` for the apps without the gateway's API (runtime,
 * projector). Readiness checks the event store, the read models and the app's READINESS_CHECKS.
 */
@Module({ imports: [TerminusModule, MetricsHttpModule], controllers: [HealthController] })
export class OperationsHttpModule {}
