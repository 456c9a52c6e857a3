export * from './cloud-event';
export * from './entity-state';
