import { Inject, Injectable } from '@nestjs/common';
import { Counter, Histogram, type Registry } from 'prom-client';
import { METRICS_REGISTRY } from '../metrics';

/** Seconds; most API calls take milliseconds, read-your-writes waits and LLM-backed calls seconds. */
const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The gateway's HTTP metrics, registered once in the process registry. */
@Injectable()
export class HttpMetrics {
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route' | 'status'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    const labelNames = ['method', 'route', 'status'] as const;
    this.requests = new Counter({
      name: 'meridian_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'meridian_http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to finishing its response, by method, route pattern and status code.',
      labelNames,
      buckets: HTTP_DURATION_BUCKETS,
      registers: [registry],
    });
  }
}
