/**
 * Probes the services that service-backed suites need, once, and hands the result to the test
 * workers through the environment (workers inherit it). See services.ts.
 */
const { Client } = require('pg');
const Redis = require('ioredis');

module.exports = async function globalSetup() {
  const url = process.env.MERIDIAN_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
  try {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    await client.connect();
    await client.query('select 1');
    await client.end();
    process.env.MERIDIAN_TEST_POSTGRES_UNAVAILABLE = '';
  } catch (error) {
    process.env.MERIDIAN_TEST_POSTGRES_UNAVAILABLE = (error && error.message) || String(error);
  }

  const redisUrl = process.env.MERIDIAN_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
  // One attempt, no reconnect loop: an absent server must fail the probe quickly.
  const redis = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let connectionError = null;
  redis.on('error', (error) => {
    connectionError = error;
  });
  try {
    await redis.connect();
    await redis.ping();
    process.env.MERIDIAN_TEST_REDIS_UNAVAILABLE = '';
  } catch (error) {
    // The rejection only says the connection closed; the 'error' event says why.
    const cause = connectionError || error;
    process.env.MERIDIAN_TEST_REDIS_UNAVAILABLE = (cause && cause.message) || String(cause);
  } finally {
    redis.disconnect();
  }

  // Kafka: a TCP connect to the first broker (the development broker: scripts/kafka/kafka.sh start).
  const first = (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',')[0].trim();
  const colon = first.lastIndexOf(':');
  process.env.MERIDIAN_TEST_KAFKA_UNAVAILABLE = await new Promise((resolve) => {
    const socket = require('node:net').connect(Number(first.slice(colon + 1)), first.slice(0, colon).replace(/^\[|\]$/g, ''));
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(`nothing answers on ${first} within 2 s; start one with scripts/kafka/kafka.sh start, or set KAFKA_BROKERS`);
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve('');
    });
    socket.on('error', (error) => resolve(`${first}: ${error.message}; start one with scripts/kafka/kafka.sh start, or set KAFKA_BROKERS`));
  });
};
