export * from './platform-health-reporter';
