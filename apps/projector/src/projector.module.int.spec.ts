import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { EVENT_STORE } from '@meridian/domain';
import { SqliteEventStore } from '@meridian/infrastructure/event-store/sqlite-event-store';
import {
  EntitiesReadRepository,
  EventsReadRepository,
  PROJECTION_MANAGER,
  READ_MODEL_DATA_SOURCE,
  ReadModelsModule,
  type ProjectionManager,
} from '@meridian/infrastructure/read-models';
import type { DataSource } from 'typeorm';
import { cloudEvent, ingest } from '../../../libs/infrastructure/src/read-models/testing/read-model-test-kit.fixture';
import { ProjectorModule } from './projector.module';

describe('ProjectorModule', () => {
  let dir: string;
  let store: SqliteEventStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-projector-'));
    store = new SqliteEventStore(join(dir, 'events.sqlite'));
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('projects while the app runs, serves the read repositories, and stops and closes on shutdown', async () => {
    @Global()
    @Module({ providers: [{ provide: EVENT_STORE, useValue: store }], exports: [EVENT_STORE] })
    class StoreModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [StoreModule, ReadModelsModule.forRoot({ database: { type: 'sqlite', path: join(dir, 'read-models', 'read-models.sqlite') } }), ProjectorModule],
    }).compile();
    const app = await moduleRef.init();
    const manager = app.get<ProjectionManager>(PROJECTION_MANAGER);
    expect(manager.isRunning).toBe(true);
    expect(manager.projectionNames).toEqual(['events', 'entities', 'agents', 'conversations', 'triggers', 'chains']);

    const head = await ingest(store, [cloudEvent('order.placed', 'order-1', { total: 5 }), cloudEvent('order.paid', 'order-1', { paid: true })]);
    await manager.waitForPosition(head, { timeoutMs: 10_000 });
    expect((await app.get(EventsReadRepository).list()).items.map((event) => event.type)).toEqual(['order.placed', 'order.paid']);
    expect((await app.get(EntitiesReadRepository).get('order-1'))?.state).toEqual({ total: 5, paid: true });
    const writer = app.get<DataSource>(READ_MODEL_DATA_SOURCE);

    await app.close();
    expect(manager.isRunning).toBe(false);
    expect(writer.isInitialized).toBe(false);
  });
});
