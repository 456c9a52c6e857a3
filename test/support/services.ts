/**
 * Service-backed suites (PostgreSQL, Redis, Kafka) need the real service. When it is absent they
 * skip with a loud message — except in CI (`CI=true`), where a skipped service suite is a failure.
 */
import { Client } from 'pg';

export const PG_URL = process.env.MERIDIAN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.MERIDIAN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const isCi = () => process.env.CI === 'true' || process.env.CI === '1';

/**
 * `describe` when the service answered the probe in global-setup.js, else `describe.skip` with a loud
 * message — and in CI an error, since a skipped service suite there is a failure.
 */
export const describePostgres = (): typeof describe =>
  serviceGate('PostgreSQL', process.env.MERIDIAN_TEST_POSTGRES_UNAVAILABLE ?? 'not probed (run through jest)') as typeof describe;

/** `describe` when Redis answered the probe in global-setup.js; see describePostgres. */
export const describeRedis = (): typeof describe =>
  serviceGate('Redis', process.env.MERIDIAN_TEST_REDIS_UNAVAILABLE ?? 'not probed (run through jest)') as typeof describe;

/** `describe` when a Kafka broker answered the probe in global-setup.js; see describePostgres. */
export const describeKafka = (): typeof describe =>
  serviceGate('Kafka', process.env.MERIDIAN_TEST_KAFKA_UNAVAILABLE ?? 'not probed (run through jest)') as typeof describe;

/** The distributed mode's suites need PostgreSQL, Redis and Kafka together. */
export const describeDistributed = (): typeof describe => {
  const missing = [
    ['PostgreSQL', process.env.MERIDIAN_TEST_POSTGRES_UNAVAILABLE ?? 'not probed (run through jest)'],
    ['Redis', process.env.MERIDIAN_TEST_REDIS_UNAVAILABLE ?? 'not probed (run through jest)'],
    ['Kafka', process.env.MERIDIAN_TEST_KAFKA_UNAVAILABLE ?? 'not probed (run through jest)'],
  ].filter(([, reason]) => reason !== '');
  return serviceGate(missing.map(([name]) => name).join(' + ') || 'PostgreSQL + Redis + Kafka', missing.map(([name, reason]) => `${name}: ${reason}`).join('; ') || undefined) as typeof describe;
};

export function serviceGate(service: string, unavailable: string | undefined): typeof describe | typeof describe.skip {
  if (!unavailable) return describe;
  const message = `\n\n*** ${service} is not reachable (${unavailable}): its suites are SKIPPED ***\n\n`;
  if (isCi()) {
    throw new Error(`${service} is required in CI but is not reachable: ${unavailable}`);
  }
  process.stderr.write(message);
  return describe.skip;
}

/** A fresh, uniquely named PostgreSQL schema for one suite; dropped by the returned cleanup. */
export async function createTestSchema(prefix: string, url = PG_URL): Promise<{ schema: string; url: string; drop: () => Promise<void> }> {
  const schema = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query(`create schema "${schema}"`);
  await client.end();
  return {
    schema,
    url,
    drop: async () => {
      const c = new Client({ connectionString: url });
      await c.connect();
      await c.query(`drop schema if exists "${schema}" cascade`);
      await c.end();
    },
  };
}
