import { Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { HttpMetrics } from './http-metrics';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { MetricsHttpController } from './metrics.http.controller';

/**
 * `GET /metrics` and the HTTP request metrics. Uses METRICS_REGISTRY from the global MetricsModule,
 * which the app composing the gateway imports (it also carries the runtime and read-side metrics,
 * so it belongs to the process, not to the HTTP surface).
 */
@Module({
  controllers: [MetricsHttpController],
  providers: [HttpMetrics, HttpMetricsMiddleware],
})
export class MetricsHttpModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}
