export * from './inbound-events.port';
export * from './ingest-events.service';
