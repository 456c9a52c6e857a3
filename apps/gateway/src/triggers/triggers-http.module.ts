import type { DataSource } from 'typeorm';
import { READ_MODEL_DATA_SOURCE } from '@meridian/infrastructure/read-models';
import { SqlTriggerStateStore } from '@meridian/infrastructure/triggers/sql-trigger-state.store';
import { TRIGGER_EVALUATIONS, TRIGGER_QUERY_HANDLERS } from './queries/trigger.queries';
import { TriggerQueriesHttpController } from './queries/trigger-queries.http.controller';
import { Module } from '@nestjs/common';
import { GatewaySharedModule } from '../shared/gateway-shared.module';
import { TriggerCommandHandler } from './commands/trigger-command.handler';
import { TriggerCommandsHttpController } from './commands/trigger-commands.http.controller';

/** The command side of triggers over HTTP (API.md "Triggers"). */
@Module({
  imports: [GatewaySharedModule],
  controllers: [TriggerCommandsHttpController, TriggerQueriesHttpController],
  providers: [
    ...TRIGGER_QUERY_HANDLERS,
    TriggerCommandHandler,
    {
      // The engine's table may not exist yet when the gateway starts first (it creates it if missing).
      provide: TRIGGER_EVALUATIONS,
      useFactory: async (dataSource: DataSource) => {
        const store = new SqlTriggerStateStore(dataSource);
        await store.init();
        return store;
      },
      inject: [READ_MODEL_DATA_SOURCE],
    },
  ],
})
export class TriggersHttpModule {}
