export * from './agent.definition';
export * from './agent-definition.validation';
export * from './agent.commands';
export * from './agent.events';
export * from './agent.state';
export * from './agent.decider';
