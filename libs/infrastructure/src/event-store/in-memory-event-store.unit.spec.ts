import { eventStoreConformance } from './event-store.conformance';
import { InMemoryEventStore } from './in-memory-event-store';

eventStoreConformance('InMemoryEventStore', async (options) => {
  const store = new InMemoryEventStore({ upcasters: options?.upcasters, retryInitialDelayMs: 10 });
  return { store, cleanup: () => store.close() };
});
