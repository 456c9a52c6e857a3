import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { configureHttpApp } from './bootstrap/configure-http-app';
import { runApp } from '@meridian/infrastructure/operations/run-app';
import { GatewayAppModule } from './gateway-app.module';

/** A gateway replica of the distributed mode: REST, GraphQL, WebSocket and webhooks. */
void runApp(
  'gateway',
  (config) => NestFactory.create<NestExpressApplication>(GatewayAppModule.forRoot(config), { bodyParser: false, bufferLogs: true }),
  configureHttpApp,
);
