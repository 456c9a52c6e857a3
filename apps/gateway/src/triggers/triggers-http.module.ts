import { TRIGGER_QUERY_HANDLERS } from './queries/trigger.queries';
import { TriggerQueriesHttpController } from './queries/trigger-queries.http.controller';
import { Module } from '@nestjs/common';
import { GatewaySharedModule } from '../shared/gateway-shared.module';
import { TriggerCommandHandler } from './commands/trigger-command.handler';
import { TriggerCommandsHttpController } from './commands/trigger-commands.http.controller';

/** The command side of triggers over HTTP (API.md "Triggers"). */
@Module({
  imports: [GatewaySharedModule],
  controllers: [TriggerCommandsHttpController, TriggerQueriesHttpController],
  providers: [...TRIGGER_QUERY_HANDLERS, TriggerCommandHandler],
})
export class TriggersHttpModule {}
