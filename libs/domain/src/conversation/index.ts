export * from './conversation.commands';
export * from './conversation.events';
export * from './conversation.state';
export * from './conversation.decider';
