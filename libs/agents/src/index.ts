export * from './aggregates';
export * from './ingestion';
export * from './routing';
export * from './reasoning';
export * from './runtime';
export * from './presets';
export * from './platform-health';
export * from './triggers';
