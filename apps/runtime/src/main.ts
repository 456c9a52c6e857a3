import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { runApp } from '@meridian/infrastructure/operations/run-app';
import { RUNTIME_TRANSPORT, RuntimeAppModule } from './distributed/runtime-app.module';

/** A runtime replica of the distributed mode: Kafka consumers, agents, and (when leading) the singletons. */
void runApp('runtime', async (config) => {
  const app = await NestFactory.create<NestExpressApplication>(RuntimeAppModule.forRoot(config), { bufferLogs: true });
  app.connectMicroservice({ strategy: app.get(RUNTIME_TRANSPORT) }, { inheritAppConfig: true });
  return app;
});
