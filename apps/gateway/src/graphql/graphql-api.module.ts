import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import type { MeridianRequest } from '../http/meridian-request';
import { GatewaySharedModule } from '../shared/gateway-shared.module';
import { formatGraphqlError } from './format-graphql-error';
import type { GraphqlContext } from './graphql-request-context';
import { readSideTypeDefs } from './read-side.schema';
import { AgentsResolver } from './resolvers/agents.resolver';
import { ChainsResolver } from './resolvers/chains.resolver';
import { ConversationsResolver } from './resolvers/conversations.resolver';
import { EntityFieldsResolver, EventsResolver } from './resolvers/events.resolver';
import { ProjectionsResolver } from './resolvers/projections.resolver';
import { TriggersResolver } from './resolvers/triggers.resolver';
import { JsonScalar } from './scalars/json.scalar';
import { SafeIntScalar } from './scalars/safe-int.scalar';

/**
 * `POST /graphql`: the read side as GraphQL (API.md "GraphQL"). Schema first, from a string, so
 * nothing is read from disk or generated at start. Resolvers are thin: they call the read
 * repositories, never the event store. The global ApiKeyGuard authenticates each root field from
 * the request in the GraphQL context; the gateway's body parser has already parsed the JSON body,
 * which the Express integration takes as it is.
 */
@Module({
  imports: [
    GatewaySharedModule,
    GraphQLModule.forRoot<ApolloDriverConfig>({
      driver: ApolloDriver,
      typeDefs: readSideTypeDefs,
      resolvers: { JSON: JsonScalar, SafeInt: SafeIntScalar },
      path: '/graphql',
      playground: false,
      introspection: true,
      context: ({ req }: { req: MeridianRequest }): GraphqlContext => ({ req }),
      formatError: formatGraphqlError,
    }),
  ],
  providers: [EventsResolver, EntityFieldsResolver, ProjectionsResolver, AgentsResolver, ConversationsResolver, TriggersResolver, ChainsResolver],
})
export class GraphqlApiModule {}
