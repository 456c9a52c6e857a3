export * from './append-planner';
export * from './polling-subscription';
export * from './upcasters';
export * from './in-memory-event-store';
export * from './sqlite-event-store';
export * from './postgres-event-store';
