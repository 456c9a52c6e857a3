import { collectDefaultMetrics, Registry } from 'prom-client';

/** The process's Prometheus registry (prom-client `Registry`), provided by MetricsModule. */
export const METRICS_REGISTRY = Symbol('MetricsRegistry');

/** Every metric Meridian exposes starts with this, the process metrics included. */
export const METRIC_PREFIX = 'meridian_';

/**
 * A fresh registry with Node's process metrics (CPU, memory, event-loop lag, GC, handles). Never
 * prom-client's global default registry: each app instance (several can run in one test process)
 * owns the registry it serves, so registering a metric twice cannot collide across instances.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}
