export * from './aggregates';
export * from './ingestion';
