import { ConfigError, loadConfig } from './meridian-config';

describe('loadConfig', () => {
  it('given an empty environment, when loaded, then the embedded defaults apply', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.eventStore.kind).toBe('sqlite');
    expect(config.readModels.kind).toBe('sqlite');
    expect(config.tenantId).toBe('default');
    expect(config.maxBatchEvents).toBe(1000);
  });

  it('given numeric strings, when loaded, then they are coerced', () => {
    expect(loadConfig({ PORT: '8080', MERIDIAN_MAX_BATCH_EVENTS: '50' })).toMatchObject({ port: 8080, maxBatchEvents: 50 });
  });

  it('given bad values, when loaded, then every bad variable is named', () => {
    expect(() => loadConfig({ PORT: 'eighty', MERIDIAN_EVENT_STORE: 'mysql' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', MERIDIAN_EVENT_STORE: 'mysql' });
    } catch (error) {
      expect((error as Error).message).toContain('PORT');
      expect((error as Error).message).toContain('MERIDIAN_EVENT_STORE');
    }
  });

  it('given a postgres store without a URL, when loaded, then it is rejected', () => {
    expect(() => loadConfig({ MERIDIAN_EVENT_STORE: 'postgres' })).toThrow(/MERIDIAN_POSTGRES_URL/);
  });

  it('given a KurrentDB store, when loaded, then its connection string is required and kept', () => {
    expect(() => loadConfig({ MERIDIAN_EVENT_STORE: 'kurrentdb' })).toThrow(/MERIDIAN_KURRENTDB_URL/);
    expect(() => loadConfig({ MERIDIAN_EVENT_STORE: 'kurrentdb', MERIDIAN_KURRENTDB_URL: 'http://host:2113' })).toThrow(/MERIDIAN_KURRENTDB_URL/);
    expect(loadConfig({ MERIDIAN_EVENT_STORE: 'kurrentdb', MERIDIAN_KURRENTDB_URL: 'kurrentdb://db:2113?tls=false' }).eventStore).toEqual({ kind: 'kurrentdb', url: 'kurrentdb://db:2113?tls=false' });
  });

  it('given the distributed-mode variables, when loaded, then Kafka and Redis are configured; without them they are absent', () => {
    const config = loadConfig({ MERIDIAN_KAFKA_BROKERS: 'k1:9092,k2:9092', MERIDIAN_KAFKA_TOPIC_PREFIX: 'acme', MERIDIAN_KAFKA_PARTITIONS_MAILBOX: '24', MERIDIAN_REDIS_URL: 'redis://r:6379' });
    expect(config.kafka).toMatchObject({ brokers: ['k1:9092', 'k2:9092'], topicPrefix: 'acme', partitions: { inbound: 6, events: 6, mailbox: 24, dlq: 1 }, maxAttempts: 5 });
    expect(config.redis).toEqual({ url: 'redis://r:6379', prefix: 'meridian' });
    expect(() => loadConfig({ MERIDIAN_KAFKA_BROKERS: 'no-port' })).toThrow(/MERIDIAN_KAFKA_BROKERS/);
    const standalone = loadConfig({});
    expect([standalone.kafka, standalone.redis]).toEqual([null, null]);
  });

  it('given a short admin key, when loaded, then it is rejected', () => {
    expect(() => loadConfig({ MERIDIAN_ADMIN_API_KEY: 'short' })).toThrow(/MERIDIAN_ADMIN_API_KEY/);
  });

  it('given webhook secrets, when loaded, then each source has its secret; a short secret is rejected', () => {
    const config = loadConfig({ MERIDIAN_WEBHOOK_SECRETS: 'github=0123456789abcdef0123,stripe=whsec_0123456789abcdef' });
    expect([...config.webhookSecrets.entries()]).toEqual([
      ['github', '0123456789abcdef0123'],
      ['stripe', 'whsec_0123456789abcdef'],
    ]);
    expect(() => loadConfig({ MERIDIAN_WEBHOOK_SECRETS: 'github=short' })).toThrow(/MERIDIAN_WEBHOOK_SECRETS/);
  });
});
