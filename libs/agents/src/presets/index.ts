export * from './agent-presets';
