import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { TerminusModule } from '@nestjs/terminus';
import type { DataSource } from 'typeorm';
import { MERIDIAN_CONFIG, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { IDEMPOTENCY_STORE, IdempotencyStore } from '@meridian/infrastructure/idempotency/idempotency.store';
import { READ_MODEL_DATA_SOURCE } from '@meridian/infrastructure/read-models';
import { AgentCommandHandler } from './agents/commands/agent-command.handler';
import { AgentCommandsHttpController } from './agents/commands/agent-commands.http.controller';
import { AGENT_QUERY_HANDLERS } from './agents/queries/agent.queries';
import { ListEventsHandler } from './events/query-events/list-events.query';
import { GetEntityHandler } from './entities/get-entity.query';
import { AgentQueriesHttpController } from './agents/queries/agent-queries.http.controller';
import { ApiKeyGuard } from './auth/api-key.guard';
import { IngestEventsHttpController } from './events/ingest-events/ingest-events.http.controller';
import { IngestWebhookHttpController } from './webhooks/ingest-webhook.http.controller';
import { HealthController } from '@meridian/infrastructure/operations/health.controller';
import { QueryEventsHttpController } from './events/query-events/query-events.http.controller';
import { GetEntityHttpController } from './entities/get-entity.http.controller';
import { ProjectionsHttpController } from './admin/projections.http.controller';
import { DeadLettersHttpController } from './admin/dead-letters.http.controller';
import { BodyParserMiddleware } from './http/body-parser.middleware';
import { CorrelationIdMiddleware } from './http/correlation-id.middleware';
import { IdempotencyInterceptor } from './http/idempotency.interceptor';
import { ProblemDetailsFilter } from './http/problem-details.filter';
import { GatewaySharedModule } from './shared/gateway-shared.module';
import { GraphqlApiModule } from './graphql/graphql-api.module';
import { WsGatewayModule } from './realtime/ws-gateway.module';
import { ConversationsHttpModule } from './conversations/conversations-http.module';
import { TriggersHttpModule } from './triggers/triggers-http.module';
import { ChainsHttpModule } from './chains/chains-http.module';
import { AgentPresetsHttpModule } from './agents/presets/agent-presets-http.module';
import { MetricsHttpModule } from '@meridian/infrastructure/operations/metrics-http.module';

/**
 * The API surface: REST, GraphQL and WebSocket. Stateless: everything it knows comes from the event
 * store and the read models. Auth is on for every route not marked @Public().
 *
 * The app composing it provides, globally, what differs between the modes: INBOUND_EVENTS,
 * REALTIME_FEED, TOKEN_STREAM (optional) and DEAD_LETTERS.
 */
@Module({
  imports: [CqrsModule.forRoot(), TerminusModule, GatewaySharedModule, WsGatewayModule, ConversationsHttpModule, TriggersHttpModule, ChainsHttpModule, AgentPresetsHttpModule, GraphqlApiModule, MetricsHttpModule],
  controllers: [HealthController, IngestEventsHttpController, IngestWebhookHttpController, QueryEventsHttpController, GetEntityHttpController, ProjectionsHttpController, DeadLettersHttpController, AgentCommandsHttpController, AgentQueriesHttpController],
  providers: [
    { provide: APP_FILTER, useClass: ProblemDetailsFilter },
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
    {
      provide: IDEMPOTENCY_STORE,
      useFactory: async (dataSource: DataSource, config: MeridianConfig) => {
        const store = new IdempotencyStore(dataSource, config.idempotencyTtlSeconds);
        await store.init();
        return store;
      },
      inject: [READ_MODEL_DATA_SOURCE, MERIDIAN_CONFIG],
    },
    AgentCommandHandler,
    ...AGENT_QUERY_HANDLERS,
    ListEventsHandler,
    GetEntityHandler,
  ],
})
export class GatewayModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(CorrelationIdMiddleware, BodyParserMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}
