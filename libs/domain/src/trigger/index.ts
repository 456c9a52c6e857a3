export * from './iso-duration';
export * from './occurrence-key-set';
export * from './trigger.definition';
export * from './trigger-definition.validation';
export * from './trigger.commands';
export * from './trigger.events';
export * from './trigger.state';
export * from './trigger.decider';
