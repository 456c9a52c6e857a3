export * from './metrics-registry';
export * from './metrics.module';
export * from './read-side.gauges';
export * from './runtime-metrics.follower';
export * from './trigger-metrics';
