export * from './cloud-event.error';
export * from './cloud-event.schema';
export * from './cloud-event.validation';
export * from './media-type';
