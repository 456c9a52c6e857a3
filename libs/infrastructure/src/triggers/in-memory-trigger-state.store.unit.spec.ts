import { InMemoryTriggerStateStore } from '@meridian/agents';
import { triggerStateStoreConformance } from './trigger-state-store.conformance';

describe('InMemoryTriggerStateStore', () => {
  triggerStateStoreConformance(async () => {
    const store = new InMemoryTriggerStateStore();
    // In memory, "the same storage" is the same object: a restart loses it by design (embedded mode).
    return { store, reopen: async () => store, cleanup: async () => undefined };
  });
});
