/**
 * Child process for the durability test: appends one event at a time and prints each
 * acknowledgement (`<eventId> <position>`) only after `append` resolved. The test kills it with
 * SIGKILL mid-stream and checks that every acknowledged event is in the file.
 */
import { randomUUID } from 'node:crypto';
import { SqliteEventStore } from './sqlite-event-store';

async function main(): Promise<void> {
  const [filename, synchronous] = process.argv.slice(2);
  const store = new SqliteEventStore(filename, { synchronous: synchronous === 'NORMAL' ? 'NORMAL' : 'FULL' });
  for (let i = 0; ; i++) {
    const eventId = randomUUID();
    const { position } = await store.append(
      `default/crash-${i % 10}`,
      [
        {
          eventId,
          type: 'crash.test',
          data: { i },
          metadata: { occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'system', id: 'crash-writer' } },
        },
      ],
      { expected: 'any' },
    );
    process.stdout.write(`${eventId} ${position}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
