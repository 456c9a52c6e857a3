/**
 * Probes the services that service-backed suites need, once, and hands the result to the test
 * workers through the environment (workers inherit it). See services.ts.
 */
const { Client } = require('pg');

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
};
