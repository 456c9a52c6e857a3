import type { INestApplication } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_STORE, type CloudEvent, type EventStore } from '@meridian/domain';
import { IngestEventsService, type IngestResult } from '@meridian/agents';
import { API_KEY_SERVICE, type ApiKeyService } from '@meridian/infrastructure/auth/api-key.service';
import { loadConfig } from '@meridian/infrastructure/config/meridian-config';
import { PlatformModule } from '@meridian/infrastructure/platform/platform.module';
import { RealtimeModule } from '@meridian/infrastructure/realtime/realtime.module';
import { RealtimeGateway } from '../../../apps/gateway/src/realtime/realtime.gateway';
import { WsGatewayModule } from '../../../apps/gateway/src/realtime/ws-gateway.module';
import type { WsGatewayOptions } from '../../../apps/gateway/src/realtime/ws-gateway.options';

export const ADMIN_KEY = 'test-admin-key-0123456789';

export interface RealtimeTestApp {
  readonly app: INestApplication;
  readonly store: EventStore;
  readonly apiKeys: ApiKeyService;
  readonly gateway: RealtimeGateway;
  /** `ws://127.0.0.1:<port>/ws` */
  readonly url: string;
  ingest(events: readonly CloudEvent[], tenantId?: string): Promise<IngestResult>;
  close(): Promise<void>;
}

/** Boots the platform (SQLite in a temp dir), the realtime feed and the `/ws` gateway on a free port. */
export async function startRealtimeTestApp(options: Partial<WsGatewayOptions> = {}): Promise<RealtimeTestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-ws-'));
  const config = loadConfig({ MERIDIAN_DATA_DIR: dataDir, MERIDIAN_ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'silent' });
  const moduleRef = await Test.createTestingModule({
    imports: [PlatformModule.forRoot(config), RealtimeModule, WsGatewayModule.forRoot(options)],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.useWebSocketAdapter(new WsAdapter(app));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const store = app.get<EventStore>(EVENT_STORE);
  const ingestion = new IngestEventsService(store);
  return {
    app,
    store,
    apiKeys: app.get<ApiKeyService>(API_KEY_SERVICE),
    gateway: app.get(RealtimeGateway),
    url: `ws://127.0.0.1:${port}/ws`,
    ingest: (events, tenantId = config.tenantId) =>
      ingestion.ingest(events, { tenantId, actor: { kind: 'api-key', id: 'test' }, requestId: 'test', receivedAt: new Date().toISOString() }),
    close: async () => {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
