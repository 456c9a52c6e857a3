import type { INestApplication } from '@nestjs/common';
import { Logger } from 'nestjs-pino';
import { ConfigError, loadConfig, type MeridianConfig } from '../config/meridian-config';

/**
 * Starts one app of the distributed mode: validated configuration (a bad value stops the process
 * with exit code 2 and a message naming the variable), the app's Nest application (and its Kafka
 * microservice, if it has one), then HTTP on PORT — `/health/*` and `/metrics` on every app.
 */
export async function runApp(name: 'gateway' | 'runtime' | 'projector', create: (config: MeridianConfig) => Promise<INestApplication>, configure?: (app: INestApplication) => void): Promise<void> {
  let config: MeridianConfig;
  try {
    config = loadConfig();
    if (config.kafka === null || config.redis === null || config.eventStore.kind === 'sqlite' || config.readModels.kind !== 'postgres') {
      throw new ConfigError(
        `Invalid configuration:\n  the ${name} app runs in the distributed mode: it needs MERIDIAN_EVENT_STORE=postgres (or kurrentdb), MERIDIAN_READ_MODELS=postgres, MERIDIAN_POSTGRES_URL, MERIDIAN_KAFKA_BROKERS and MERIDIAN_REDIS_URL (npm start runs everything in one process instead)`,
      );
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const app = await create(config);
  if (configure) configure(app);
  else {
    app.useLogger(app.get(Logger));
    app.enableShutdownHooks();
  }
  await app.startAllMicroservices();
  await app.listen(config.port, config.host);
  process.stdout.write(`Meridian ${name} listening on http://localhost:${config.port}\n`);
}
