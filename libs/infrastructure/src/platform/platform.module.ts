import { DynamicModule, Global, Inject, Injectable, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { EVENT_STORE, type EventStore } from '@meridian/domain';
import { DeciderCommandExecutor } from '@meridian/agents';
import { API_KEY_SERVICE, ApiKeyService } from '../auth/api-key.service';
import { MERIDIAN_CONFIG, type MeridianConfig } from '../config/meridian-config';
import { loggerOptions } from '../logging/logger.options';
import { createEventStore } from './event-store.factory';

/** Receives the admin key generated on first start, the only moment it exists in clear. */
export const ADMIN_KEY_SINK = Symbol('AdminKeySink');
export type AdminKeySink = (key: string) => void;

@Injectable()
class PlatformLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Platform');

  constructor(
    @Inject(MERIDIAN_CONFIG) private readonly config: MeridianConfig,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(API_KEY_SERVICE) private readonly apiKeys: ApiKeyService,
    @Inject(ADMIN_KEY_SINK) private readonly adminKeySink: AdminKeySink,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.apiKeys.start();
    const generated = await this.apiKeys.ensureAdminKey(this.config.tenantId, this.config.adminApiKey);
    if (generated) {
      this.logger.warn('An admin API key was generated; it is shown once and only its hash is stored.');
      this.adminKeySink(generated);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.apiKeys.stop();
    await this.store.close();
  }
}

/**
 * What every Meridian app needs: validated configuration, structured logging, the event store
 * (the system of record), API keys and the command executor.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(config: MeridianConfig, options: { adminKeySink?: AdminKeySink } = {}): DynamicModule {
    return {
      module: PlatformModule,
      imports: [LoggerModule.forRoot(loggerOptions(config))],
      providers: [
        { provide: MERIDIAN_CONFIG, useValue: config },
        { provide: ADMIN_KEY_SINK, useValue: options.adminKeySink ?? (() => undefined) },
        { provide: EVENT_STORE, useFactory: () => createEventStore(config.eventStore) },
        { provide: API_KEY_SERVICE, useFactory: (store: EventStore) => new ApiKeyService(store), inject: [EVENT_STORE] },
        { provide: DeciderCommandExecutor, useFactory: (store: EventStore) => new DeciderCommandExecutor(store), inject: [EVENT_STORE] },
        PlatformLifecycle,
      ],
      exports: [MERIDIAN_CONFIG, EVENT_STORE, API_KEY_SERVICE, DeciderCommandExecutor],
    };
  }
}
