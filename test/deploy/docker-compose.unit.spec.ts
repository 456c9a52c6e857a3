/**
 * docker-compose.yml runs the distributed mode as it must run: each app service starts the app its
 * npm script starts, with an environment Meridian's own config loader accepts; it reaches
 * PostgreSQL, Kafka and Redis at the names and ports those services listen on, with the database's
 * own credentials, and starts only once they are healthy; replicas fit the published ports and the
 * mailbox partitions; a single broker can hold every topic it is asked to.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DISTRIBUTED_APPS, ROOT, getRoutes, readRepoFile, startScript } from './support/app-entries';
import { argv, loadCompose, publishedPorts, replicasOf, serviceDependencies, serviceEnvironment, type ComposeFile, type ComposeService, type ShellEnv } from './support/compose';
import { checkAppEnv, endpoint } from './support/deploy-env';
import { containerArgv, loadImage, startScriptMismatch } from './support/image';

// Reads and parses the repository's sources (TypeScript) and manifests: seconds on a busy machine.
jest.setTimeout(30_000);

const COMPOSE_FILE = 'docker-compose.yml';
const text = readRepoFile(COMPOSE_FILE);
const image = loadImage();
/** No variable set in the shell: the file's defaults. */
const DEFAULTS: ShellEnv = {};
/** An operator's settings, as in an .env file next to docker-compose.yml. */
const OPERATOR: ShellEnv = { MERIDIAN_ADMIN_API_KEY: 'operator-admin-key-0123456789abcdef', POSTGRES_PASSWORD: 'operator-db-password' };

function service(compose: ComposeFile, name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`${COMPOSE_FILE} has no service "${name}"`);
  return found;
}

/** The environment the app's process sees: the image's ENV overridden by Compose's. */
function appEnv(compose: ComposeFile, app: string): Record<string, string> {
  return { ...image.env, ...serviceEnvironment(service(compose, app)) };
}

function healthcheckCommand(target: ComposeService): string {
  const test = target.healthcheck?.test;
  if (test === undefined || target.healthcheck?.disable) return '';
  return typeof test === 'string' ? test : test.join(' ');
}

describe(COMPOSE_FILE, () => {
  const compose = loadCompose(text, DEFAULTS);

  it.each(DISTRIBUTED_APPS)('runs the %s as its npm start script does, compiled, from the repository Dockerfile', (app) => {
    const target = service(compose, app);
    const command = containerArgv(image, { entrypoint: argv(target.entrypoint), cmd: argv(target.command) });
    expect(startScriptMismatch(image, command, app)).toEqual([]);
    const build = typeof target.build === 'string' ? { context: target.build } : target.build;
    expect(build).toBeDefined();
    expect(existsSync(join(ROOT, build?.context ?? '.', build?.dockerfile ?? 'Dockerfile'))).toBe(true);
    expect(join(ROOT, build?.context ?? '.')).toBe(ROOT);
  });

  it('runs the three apps from one image', () => {
    const images = new Set(DISTRIBUTED_APPS.map((app) => service(compose, app).image));
    expect(images.size).toBe(1);
  });

  it.each([
    ['its defaults', DEFAULTS],
    ["an operator's settings", OPERATOR],
  ])('gives every app, with %s, an environment the app accepts', (_, shell) => {
    const withShell = loadCompose(text, shell);
    for (const app of DISTRIBUTED_APPS) {
      const { config, problems } = checkAppEnv(appEnv(withShell, app));
      expect({ app, problems }).toEqual({ app, problems: [] });
      if (shell.MERIDIAN_ADMIN_API_KEY) expect(config?.adminApiKey).toBe(shell.MERIDIAN_ADMIN_API_KEY);
    }
  });

  it.each([
    ['its defaults', DEFAULTS],
    ["an operator's settings", OPERATOR],
  ])("connects the apps to PostgreSQL with the database's own user, password and name, with %s", (_, shell) => {
    const withShell = loadCompose(text, shell);
    for (const app of DISTRIBUTED_APPS) {
      const url = new URL(appEnv(withShell, app).MERIDIAN_POSTGRES_URL);
      const database = serviceEnvironment(service(withShell, url.hostname));
      expect({ app, user: url.username, password: decodeURIComponent(url.password), database: url.pathname.slice(1) }).toEqual({
        app,
        user: database.POSTGRES_USER,
        password: database.POSTGRES_PASSWORD,
        database: database.POSTGRES_DB ?? database.POSTGRES_USER,
      });
    }
  });

  it.each(DISTRIBUTED_APPS)('starts the %s after every service it connects to is healthy, at the address that service listens on', (app) => {
    const env = appEnv(compose, app);
    const config = checkAppEnv(env).config;
    if (!config || config.eventStore.kind !== 'postgres' || config.kafka === null || config.redis === null) throw new Error(`${app}: not a distributed-mode configuration`);
    const postgres = endpoint(config.eventStore.url, 5432);
    const redis = endpoint(config.redis.url, 6379);
    const brokers = config.kafka.brokers.map((broker) => endpoint(broker));
    const dependencies = serviceDependencies(service(compose, app));
    for (const { host } of [postgres, redis, ...brokers]) {
      expect({ app, host, condition: dependencies[host] }).toEqual({ app, host, condition: 'service_healthy' });
      expect({ host, healthcheck: healthcheckCommand(service(compose, host)) !== '' }).toEqual({ host, healthcheck: true });
    }
    // The images' default ports, unless the service's command moves them.
    const pgCommand = argv(service(compose, postgres.host).command)?.join(' ') ?? '';
    const pgPort = /(?:^|\s)-p\s*(\d+)|(?:^|\s)port=(\d+)/.exec(pgCommand);
    expect(postgres.port).toBe(pgPort ? Number(pgPort[1] ?? pgPort[2]) : 5432);
    const redisPort = /--port\s+(\d+)/.exec(argv(service(compose, redis.host).command)?.join(' ') ?? '');
    expect(redis.port).toBe(redisPort ? Number(redisPort[1]) : 6379);
    // Kafka clients connect to the bootstrap address, then to the address the broker advertises:
    // each broker the apps name must be advertised as such on a listener the broker opens.
    for (const broker of brokers) {
      const kafka = serviceEnvironment(service(compose, broker.host));
      const advertised = (kafka.KAFKA_ADVERTISED_LISTENERS ?? '').split(',').map((listener) => /^([A-Z_]+):\/\/(.*)$/.exec(listener.trim()));
      const listener = advertised.find((match) => match !== null && match[2] === `${broker.host}:${broker.port}`);
      expect({ broker, advertised: listener !== undefined }).toEqual({ broker, advertised: true });
      const listening = (kafka.KAFKA_LISTENERS ?? '').split(',').some((l) => l.trim().startsWith(`${listener?.[1]}://`) && l.trim().endsWith(`:${broker.port}`));
      expect({ broker, listening }).toEqual({ broker, listening: true });
    }
  });

  it('asks a single broker for no more replicas of any topic than there are brokers', () => {
    const brokers = Object.values(compose.services)
      .filter((s) => /(^|\/)kafka[:@]/.test(s.image ?? ''))
      .reduce((sum, s) => sum + replicasOf(s), 0);
    expect(brokers).toBeGreaterThan(0);
    for (const app of DISTRIBUTED_APPS) {
      const replicationFactor = checkAppEnv(appEnv(compose, app)).config?.kafka?.replicationFactor ?? Infinity;
      expect({ app, fits: replicationFactor <= brokers }).toEqual({ app, fits: true });
    }
    // Kafka's internal topics default to 3 replicas; on fewer brokers the consumer groups (offsets
    // topic) and idempotent producers (transaction state) never get a coordinator.
    for (const broker of Object.values(compose.services).filter((s) => /(^|\/)kafka[:@]/.test(s.image ?? ''))) {
      const env = serviceEnvironment(broker);
      for (const setting of ['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', 'KAFKA_DEFAULT_REPLICATION_FACTOR']) {
        expect({ setting, value: Number(env[setting] ?? (setting === 'KAFKA_DEFAULT_REPLICATION_FACTOR' ? 1 : 3)) <= brokers }).toEqual({ setting, value: true });
      }
      // KRaft formats its storage with this id: 16 bytes, base64url.
      expect(Buffer.from(env.CLUSTER_ID ?? '', 'base64url').length).toBe(16);
    }
  });

  it('runs no more runtime replicas than the mailbox topic has partitions (a replica without one idles)', () => {
    const mailbox = checkAppEnv(appEnv(compose, 'runtime')).config?.kafka?.partitions.mailbox;
    expect(replicasOf(service(compose, 'runtime'))).toBeLessThanOrEqual(mailbox ?? 0);
  });

  it.each(DISTRIBUTED_APPS)("checks the %s's health on its readiness route, on the port it listens on", (app) => {
    const command = healthcheckCommand(service(compose, app));
    const url = /https?:\/\/[^/:'"\s]+(?::(\d+)|:'\s*\+\s*process\.env\.PORT\s*\+\s*')(\/[\w/-]*)/.exec(command);
    expect(url).not.toBeNull();
    const [, literalPort, path] = url ?? [];
    if (literalPort !== undefined) expect(literalPort).toBe(appEnv(compose, app).PORT);
    expect(path).toBe('/health/ready');
    expect(getRoutes(startScript(app).entry).has(path)).toBe(true);
  });

  it('publishes one host port per gateway replica, to the port the gateway listens on', () => {
    const gateway = service(compose, 'gateway');
    const ports = publishedPorts(gateway);
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) {
      expect(port.containerPort).toBe(Number(appEnv(compose, 'gateway').PORT));
      // A fixed host port can be bound by one replica only: the others would fail to start.
      if (port.hostRange) expect(port.hostRange[1] - port.hostRange[0] + 1).toBeGreaterThanOrEqual(replicasOf(gateway));
    }
  });
});
