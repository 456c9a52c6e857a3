import { CONVERSATION_QUERY_HANDLERS } from './queries/conversation.queries';
import { ConversationQueriesHttpController } from './queries/conversation-queries.http.controller';
import { Module } from '@nestjs/common';
import { GatewaySharedModule } from '../shared/gateway-shared.module';
import { ConversationCommandHandler } from './commands/conversation-command.handler';
import { ConversationCommandsHttpController } from './commands/conversation-commands.http.controller';

/** The command side of conversations over HTTP (API.md "Conversations"). */
@Module({
  imports: [GatewaySharedModule],
  controllers: [ConversationCommandsHttpController, ConversationQueriesHttpController],
  providers: [...CONVERSATION_QUERY_HANDLERS, ConversationCommandHandler],
})
export class ConversationsHttpModule {}
