export * from './decider-command.executor';
