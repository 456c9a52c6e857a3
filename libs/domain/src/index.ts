export * from './shared';
export * from './event-store';
export * from './ingestion';
export * from './chain';
export * from './agent';
export * from './shared/decider-specification';
export * from './trigger';
export * from './conversation';
