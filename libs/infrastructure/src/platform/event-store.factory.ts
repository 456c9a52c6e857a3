import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EventStore } from '@meridian/domain';
import type { MeridianConfig } from '../config/meridian-config';
import { SqliteEventStore } from '../event-store/sqlite-event-store';

/** The configured event store adapter; the embedded default is a SQLite file under the data dir. */
export async function createEventStore(config: MeridianConfig['eventStore']): Promise<EventStore> {
  switch (config.kind) {
    case 'sqlite':
      mkdirSync(dirname(config.path), { recursive: true });
      return new SqliteEventStore(config.path);
    case 'postgres': {
      // Loaded lazily: the embedded mode does not need the pg driver at all.
      const { PostgresEventStore } = await import('../event-store/postgres-event-store');
      return PostgresEventStore.connect(config.url, { schema: config.schema });
    }
    case 'kurrentdb': {
      const { KurrentDbEventStore } = await import('../event-store/kurrentdb-event-store');
      return KurrentDbEventStore.connect(config.url);
    }
  }
}
