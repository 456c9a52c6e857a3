import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import type { MeridianRequest } from '../http/meridian-request';
import { requestContextOf, type RequestContext } from '../http/request-context.decorator';

/** What every resolver sees as its GraphQL context: the HTTP request, which the ApiKeyGuard reads. */
export interface GraphqlContext {
  readonly req: MeridianRequest;
}

/** The caller (tenant, actor, correlation id) of a GraphQL operation, like `@Ctx()` for REST. */
export const GqlCtx = createParamDecorator((_: unknown, context: ExecutionContext): RequestContext =>
  requestContextOf(GqlExecutionContext.create(context).getContext<GraphqlContext>().req),
);
