export * from './shared';
export * from './event-store';
export * from './ingestion';
