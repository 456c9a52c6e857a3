export * from './condition-evaluator';
export * from './window-condition.evaluator';
export * from './time-condition.evaluator';
