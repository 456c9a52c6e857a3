import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { eventStoreConformance, newEvents, uniqueStream } from './event-store.conformance';
import { SqliteEventStore } from './sqlite-event-store';

function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-sqlite-es-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

eventStoreConformance('SqliteEventStore', async (options) => {
  const { dir, remove } = tempDir();
  const store = new SqliteEventStore(join(dir, 'events.db'), { upcasters: options?.upcasters, retryInitialDelayMs: 10 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      remove();
    },
  };
});

describe('SqliteEventStore (file specifics)', () => {
  let dir: string;
  let remove: () => void;
  beforeEach(() => ({ dir, remove } = tempDir()));
  afterEach(() => remove());

  it('reads from its in-memory tail exactly what is stored, even when another writer appends to the same file in between', async () => {
    const file = join(dir, 'events.db');
    const a = new SqliteEventStore(file, { tailCacheEvents: 100 });
    const b = new SqliteEventStore(file, { tailCacheEvents: 100 });
    const streams = [uniqueStream(), uniqueStream()];
    await a.append(streams[0], newEvents(3), { expected: 'no_stream' });
    await b.append(streams[1], newEvents(2), { expected: 'no_stream' });
    await a.append(streams[0], newEvents(2), { expected: 2 });
    await b.append(streams[1], newEvents(1, 'other.kind'), { expected: 1 });
    // A's tail holds only its own appends (with a gap where B wrote); reads must still see everything.
    const raw = new Database(file, { readonly: true });
    const stored = (raw.prepare('select position, event_id as eventId from events order by position').all() as { position: number; eventId: string }[]);
    raw.close();
    for (const after of [0, 2, 3, 5, 6, 7]) {
      expect((await a.readAll({ after })).map((e) => e.eventId)).toEqual(stored.filter((row) => row.position > after).map((row) => row.eventId));
      expect((await a.readAll({ after, limit: 2 })).map((e) => e.position)).toEqual(stored.filter((row) => row.position > after).slice(0, 2).map((row) => row.position));
    }
    expect((await a.readAll({ after: 0, filter: { types: ['other.*'] } })).map((e) => e.streamName)).toEqual([streams[1]]);
    // The cached events decode exactly as rows read from the database do.
    const plain = new SqliteEventStore(file, { tailCacheEvents: 0 });
    expect(await a.readAll()).toEqual(await plain.readAll());
    await plain.close();
    await a.close();
    await b.close();
  });

  it('keeps events across reopen and continues positions after them', async () => {
    const file = join(dir, 'events.db');
    const stream = uniqueStream();
    const first = new SqliteEventStore(file);
    const written = await first.append(stream, newEvents(3), { expected: 'no_stream' });
    await first.close();

    const second = new SqliteEventStore(file);
    expect((await second.readStream(stream)).map((e) => e.revision)).toEqual([0, 1, 2]);
    const next = await second.append(stream, newEvents(1), { expected: 2 });
    expect(next.position).toBeGreaterThan(written.position);
    await second.close();
  });

  it('never reuses a position, even after the highest row is gone', async () => {
    const file = join(dir, 'events.db');
    const store = new SqliteEventStore(file);
    const last = await store.append(uniqueStream(), newEvents(2), { expected: 'no_stream' });
    // Only a repair could delete events; the next position must still be fresh.
    const raw = new Database(file);
    raw.prepare('delete from events where position = ?').run(last.position);
    raw.close();
    const next = await store.append(uniqueStream(), newEvents(1), { expected: 'no_stream' });
    expect(next.position).toBe(last.position + 1);
    await store.close();
  });

  it('uses WAL, so another connection reads while the store is open', async () => {
    const file = join(dir, 'events.db');
    const store = new SqliteEventStore(file);
    await store.append(uniqueStream(), newEvents(2), { expected: 'no_stream' });
    const reader = new Database(file, { readonly: true });
    expect(reader.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(reader.prepare('select count(*) as n from events').get()).toEqual({ n: 2 });
    reader.close();
    await store.close();
  });

  it('an acknowledged append survives kill -9 of the writing process', async () => {
    const file = join(dir, 'events.db');
    const acked = await runAndKill(file, 200);
    expect(acked.length).toBeGreaterThanOrEqual(200);

    const store = new SqliteEventStore(file);
    const found = await store.findExistingEventIds(acked.map((a) => a.eventId));
    expect(found.size).toBe(acked.length);
    const all = await store.readAll();
    const positions = new Map(all.map((e) => [e.eventId, e.position]));
    expect(acked.every((a) => positions.get(a.eventId) === a.position)).toBe(true);
    await store.close();
  }, 60_000);
});

/** Runs the crash writer until it has acknowledged `count` appends, then SIGKILLs it. */
function runAndKill(file: string, count: number): Promise<Array<{ eventId: string; position: number }>> {
  const root = resolve(__dirname, '../../../..');
  const child = spawn(
    process.execPath,
    [require.resolve('ts-node/dist/bin.js'), '--swc', '-r', 'tsconfig-paths/register', join(__dirname, 'sqlite-crash-writer.fixture.ts'), file],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolvePromise, reject) => {
    const acked: Array<{ eventId: string; position: number }> = [];
    let buffer = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      if (killed) return;
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const [eventId, position] = line.split(' ');
        acked.push({ eventId, position: Number(position) });
      }
      if (acked.length >= count) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolvePromise(acked);
      else reject(new Error(`crash writer exited early (code ${code}): ${stderr}`));
    });
  });
}
