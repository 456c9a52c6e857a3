export * from './mailbox.events';
