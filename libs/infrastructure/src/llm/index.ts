export * from './llm-action-tools';
export * from './llm-decision-failed.error';
export * from './llm-messages';
export * from './llm-price-table';
export * from './llm-reasoning-engine';
