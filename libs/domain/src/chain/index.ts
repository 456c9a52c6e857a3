export * from './chain-budget';
export * from './chain.events';
