export * from './condition-evaluator';
export * from './window-condition.evaluator';
export * from './time-condition.evaluator';
export * from './trigger-state-store.port';
export * from './trigger-set';
export * from './trigger-engine';
export * from './trigger-actions';
