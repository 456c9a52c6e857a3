import { InMemoryEventStore } from '@meridian/infrastructure/event-store/in-memory-event-store';
import { describeAgentRouter } from './agent-router.fixture';
import { InMemoryCheckpointStore } from './checkpoint-store.port';

describeAgentRouter(
  'AgentRouter (in-memory store)',
  {
    async create() {
      const store = new InMemoryEventStore({ retryInitialDelayMs: 10, pollIntervalMs: 50 });
      return { store, reopen: async () => store, cleanup: () => store.close() };
    },
  },
  { agents: 50, events: 2000 },
);

describe('InMemoryCheckpointStore', () => {
  it('given nothing saved, when loaded, then it is 0; once saved, the saved position per name', async () => {
    const checkpoints = new InMemoryCheckpointStore();
    expect(await checkpoints.load('router')).toBe(0);
    await checkpoints.save('router', 42);
    expect(await checkpoints.load('router')).toBe(42);
    expect(await checkpoints.load('other')).toBe(0);
  });
});
