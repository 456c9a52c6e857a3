export * from './checkpoint-store.port';
export * from './agent-router';
