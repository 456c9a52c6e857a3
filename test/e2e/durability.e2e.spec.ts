import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killHard, spawnStandalone, type StandaloneProcess } from './support/standalone-process';

jest.setTimeout(240_000);

const KEY = 'durability-admin-key-0123456789';

/**
 * Acknowledged means durable: kill -9 the standalone process while clients are ingesting, restart
 * it on the same data directory, and every event that got a 202 is there, once.
 */
describe('kill -9 during ingestion (standalone process)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-kill9-'));
  let proc: StandaloneProcess | null = null;

  afterAll(async () => {
    if (proc) await killHard(proc.child);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses none of the events that got a 202', async () => {
    const env = { MERIDIAN_DATA_DIR: dataDir, MERIDIAN_ADMIN_API_KEY: KEY };
    proc = await spawnStandalone(env);
    const { baseUrl } = proc;
    const acknowledged = new Set<string>();
    let maxPosition = 0;
    let stop = false;

    const writer = async (writerId: number): Promise<void> => {
      for (let batch = 0; !stop; batch++) {
        const events = Array.from({ length: 50 }, (_, i) => ({
          specversion: '1.0',
          id: `w${writerId}-b${batch}-e${i}`,
          source: 'urn:test:kill9',
          type: 'durability.tick',
          subject: `device-${i % 10}`,
          data: { writerId, batch, i },
        }));
        try {
          const res = await fetch(`${baseUrl}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify(events) });
          if (res.status !== 202) continue;
          const body = (await res.json()) as { position: number };
          events.forEach((e) => acknowledged.add(e.id));
          maxPosition = Math.max(maxPosition, body.position);
        } catch {
          return; // the server is gone
        }
      }
    };

    const writers = [0, 1, 2, 3].map(writer);
    // Kill once a good number of batches have been acknowledged, while the writers are mid-flight.
    while (acknowledged.size < 3000) await new Promise((r) => setTimeout(r, 20));
    await killHard(proc.child);
    stop = true;
    await Promise.all(writers);
    expect(acknowledged.size).toBeGreaterThanOrEqual(3000);

    proc = await spawnStandalone(env);
    const seen = new Map<string, number>();
    let cursor: string | null = null;
    do {
      const res = await fetch(`${proc.baseUrl}/api/v1/events?type=durability.tick&limit=500&minPosition=${maxPosition}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
        headers: { 'x-api-key': KEY },
      });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: Array<{ id: string }>; nextCursor: string | null };
      for (const item of page.items) seen.set(item.id, (seen.get(item.id) ?? 0) + 1);
      cursor = page.nextCursor;
    } while (cursor);

    const lost = [...acknowledged].filter((id) => !seen.has(id));
    expect(lost).toEqual([]);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });
});
