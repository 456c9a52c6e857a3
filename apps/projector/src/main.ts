import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { runApp } from '@meridian/infrastructure/operations/run-app';
import { PROJECTOR_TRANSPORT, ProjectorAppModule } from './distributed/projector-app.module';

/** The projector of the distributed mode: read models, rebuilds, dead letters. */
void runApp('projector', async (config) => {
  const app = await NestFactory.create<NestExpressApplication>(ProjectorAppModule.forRoot(config), { bufferLogs: true });
  app.connectMicroservice({ strategy: app.get(PROJECTOR_TRANSPORT) }, { inheritAppConfig: true });
  return app;
});
