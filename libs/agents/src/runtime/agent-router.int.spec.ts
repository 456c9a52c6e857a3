import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventStore } from '@meridian/domain';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import { describeAgentRouter } from './agent-router.fixture';

describeAgentRouter(
  'AgentRouter (SQLite file)',
  {
    async create() {
      const dir = mkdtempSync(join(tmpdir(), 'meridian-router-'));
      const file = join(dir, 'events.db');
      const open = () => new SqliteEventStore(file, { retryInitialDelayMs: 10, pollIntervalMs: 50, synchronous: 'NORMAL' });
      const stores: EventStore[] = [open()];
      return {
        store: stores[0],
        reopen: async () => {
          const another = open();
          stores.push(another);
          return another;
        },
        cleanup: async () => {
          for (const store of stores.reverse()) await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  { agents: 50, events: 2000 },
);
