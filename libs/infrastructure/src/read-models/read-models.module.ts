import { Inject, Injectable, Logger, Module, type DynamicModule, type FactoryProvider, type ModuleMetadata, type OnApplicationShutdown } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '@meridian/domain';
import type { DataSource } from 'typeorm';
import { ProjectionManager, type ProjectionManagerOptions } from './engine/projection-manager';
import type { Projection } from './engine/projection';
import type { TenantScope } from './ingestion/ingestion-filter';
import { defaultProjections } from './projections';
import { openReadModelDatabase, type ReadModelDatabase, type ReadModelDatabaseOptions } from './read-model-data-source';
import type { LoggerLike } from './read-model-logger';
import { READ_REPOSITORIES } from './queries/read-repositories';

/** The read-model database (writer and reader DataSources). */
export const READ_MODEL_DATABASE = Symbol('ReadModelDatabase');
/** DataSource projections write to. */
export const READ_MODEL_DATA_SOURCE = Symbol('ReadModelDataSource');
/** DataSource queries read from (the same as the writer on PostgreSQL). */
export const READ_MODEL_READ_DATA_SOURCE = Symbol('ReadModelReadDataSource');
export const PROJECTION_MANAGER = Symbol('ProjectionManager');
export const READ_MODEL_PROJECTIONS = Symbol('ReadModelProjections');

export interface ReadModelsModuleOptions {
  readonly database: ReadModelDatabaseOptions;
  /** Let TypeORM create/update the tables at start (default true; see createReadModelDataSource). */
  readonly synchronize?: boolean;
  /** Tenants whose ingested events are projected; default all. */
  readonly tenants?: TenantScope;
  /** Replaces the default projections (events, entities, agents, conversations, triggers, chains). */
  readonly projections?: readonly Projection[];
  /** Engine tuning: batch sizes, poll intervals, progress log interval. */
  readonly manager?: Omit<ProjectionManagerOptions, 'store' | 'dataSource' | 'readDataSource' | 'projections' | 'logger'>;
  /** Default: a NestJS Logger with context "Projections". */
  readonly logger?: LoggerLike;
}

export interface ReadModelsModuleAsyncOptions {
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: FactoryProvider['inject'];
  readonly useFactory: (...args: never[]) => ReadModelsModuleOptions | Promise<ReadModelsModuleOptions>;
}

const OPTIONS = Symbol('ReadModelsModuleOptions');

/** Closes the read-model database last: after onModuleDestroy hooks (the projector's stop) have run. */
@Injectable()
class ReadModelsLifecycle implements OnApplicationShutdown {
  constructor(@Inject(READ_MODEL_DATABASE) private readonly database: ReadModelDatabase) {}

  async onApplicationShutdown(): Promise<void> {
    await this.database.close();
  }
}

/**
 * The read side for NestJS apps: the DataSources, the ProjectionManager (not started here — the
 * projector app starts it; the gateway uses it for status, rebuild requests and read-your-writes
 * waits) and the read repositories. Needs `EVENT_STORE` resolvable (PlatformModule exports it
 * globally, or pass `imports`).
 */
@Module({})
export class ReadModelsModule {
  static forRoot(options: ReadModelsModuleOptions & { readonly imports?: ModuleMetadata['imports'] }): DynamicModule {
    return ReadModelsModule.forRootAsync({ imports: options.imports, useFactory: () => options });
  }

  static forRootAsync(options: ReadModelsModuleAsyncOptions): DynamicModule {
    const repositoryProviders: FactoryProvider[] = READ_REPOSITORIES.map((Repository) => ({
      provide: Repository,
      useFactory: (reader: DataSource) => new Repository(reader),
      inject: [READ_MODEL_READ_DATA_SOURCE],
    }));
    return {
      module: ReadModelsModule,
      global: true,
      imports: options.imports ?? [],
      providers: [
        { provide: OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        {
          provide: READ_MODEL_DATABASE,
          useFactory: (resolved: ReadModelsModuleOptions) => openReadModelDatabase(resolved.database, { synchronize: resolved.synchronize }),
          inject: [OPTIONS],
        },
        { provide: READ_MODEL_DATA_SOURCE, useFactory: (database: ReadModelDatabase) => database.writer, inject: [READ_MODEL_DATABASE] },
        { provide: READ_MODEL_READ_DATA_SOURCE, useFactory: (database: ReadModelDatabase) => database.reader, inject: [READ_MODEL_DATABASE] },
        {
          provide: READ_MODEL_PROJECTIONS,
          useFactory: (resolved: ReadModelsModuleOptions) => resolved.projections ?? defaultProjections({ tenants: resolved.tenants }),
          inject: [OPTIONS],
        },
        {
          provide: PROJECTION_MANAGER,
          useFactory: (resolved: ReadModelsModuleOptions, store: EventStore, database: ReadModelDatabase, projections: readonly Projection[]) =>
            new ProjectionManager({
              ...(resolved.manager ?? {}),
              store,
              dataSource: database.writer,
              readDataSource: database.reader,
              projections,
              logger: resolved.logger ?? new Logger('Projections'),
            }),
          inject: [OPTIONS, EVENT_STORE, READ_MODEL_DATABASE, READ_MODEL_PROJECTIONS],
        },
        { provide: ProjectionManager, useExisting: PROJECTION_MANAGER },
        ...repositoryProviders,
        ReadModelsLifecycle,
      ],
      exports: [READ_MODEL_DATABASE, READ_MODEL_DATA_SOURCE, READ_MODEL_READ_DATA_SOURCE, READ_MODEL_PROJECTIONS, PROJECTION_MANAGER, ProjectionManager, ...READ_REPOSITORIES],
    };
  }
}
