export * from './decision-context';
export * from './action-templates';
export * from './rules-engine';
