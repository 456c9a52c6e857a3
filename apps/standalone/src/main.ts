import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError, loadConfig, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { configureHttpApp } from '../../gateway/src/bootstrap/configure-http-app';
import { StandaloneModule } from './standalone.module';

/** Shown once on the terminal: the generated admin key is never stored in clear. */
function announceAdminKey(port: number): (key: string) => void {
  return (key) =>
    process.stdout.write(
      `\n  Meridian generated an admin API key (shown only this once; only its hash is stored):\n\n    ${key}\n\n` +
        `  Use it as: curl -H "X-API-Key: ${key}" http://localhost:${port}/api/v1/agents\n\n`,
    );
}

async function bootstrap(): Promise<void> {
  let config: MeridianConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const app = await NestFactory.create<NestExpressApplication>(StandaloneModule.forRoot(config, { adminKeySink: announceAdminKey(config.port) }), {
    bodyParser: false,
    bufferLogs: true,
  });
  configureHttpApp(app);
  await app.listen(config.port, config.host);
  process.stdout.write(`Meridian (standalone) listening on http://localhost:${config.port} — data in ${config.dataDir}; API docs at /docs\n`);
}

void bootstrap();
