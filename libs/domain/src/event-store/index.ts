export * from './event-store.port';
export * from './stream-names';
