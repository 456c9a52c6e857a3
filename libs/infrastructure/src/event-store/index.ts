// The PostgreSQL adapter is not re-exported: importing it loads the `pg` driver, which the embedded
// (SQLite) deployment does not need. Import it from './postgres-event-store' where it is used.
export * from './append-planner';
export * from './polling-subscription';
export * from './upcasters';
export * from './in-memory-event-store';
export * from './sqlite-event-store';
