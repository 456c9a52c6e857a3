import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@meridian/infrastructure/config/meridian-config';
import { configureHttpApp } from '../../../apps/gateway/src/bootstrap/configure-http-app';
import { StandaloneModule } from '../../../apps/standalone/src/standalone.module';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface RunningApp {
  readonly app: INestApplication;
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly apiKey: string;
  /** fetch against the app with the admin key (unless headers override it). */
  request(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** Boots the standalone app (real HTTP on an ephemeral port) on a fresh data directory. */
export async function startStandalone(env: Record<string, string> = {}, dataDir?: string): Promise<RunningApp> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'meridian-e2e-'));
  const config = loadConfig({ MERIDIAN_DATA_DIR: dir, MERIDIAN_ADMIN_API_KEY: TEST_ADMIN_KEY, LOG_LEVEL: 'silent', ...env });
  const app = await NestFactory.create<NestExpressApplication>(StandaloneModule.forRoot(config), { bodyParser: false, logger: process.env.MERIDIAN_TEST_NEST_LOGS ? undefined : false, abortOnError: false });
  configureHttpApp(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    app,
    baseUrl,
    dataDir: dir,
    apiKey: TEST_ADMIN_KEY,
    request: (path, init = {}) => {
      const { json, headers, ...rest } = init;
      const h = new Headers(headers);
      if (!h.has('x-api-key') && !h.has('authorization')) h.set('x-api-key', TEST_ADMIN_KEY);
      if (json !== undefined && !h.has('content-type')) h.set('content-type', 'application/json');
      return fetch(baseUrl + path, { ...rest, headers: h, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
    },
    close: async (options = {}) => {
      await app.close();
      if (!options.keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function cloudEvent(id: string | number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { specversion: '1.0', id: String(id), source: 'urn:test:shop', type: 'order.placed', subject: `order-${id}`, data: { amount: Number(id) || 1 }, ...overrides };
}
