import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Actor } from '@meridian/domain';
import type { MeridianRequest } from './meridian-request';
import { HttpProblem } from './problem-details';

/** Who asks and in which request: what every command records. */
export interface RequestContext {
  readonly tenantId: string;
  readonly actor: Actor;
  readonly correlationId: string;
  readonly traceparent?: string;
}

export function requestContextOf(request: MeridianRequest): RequestContext {
  if (!request.principal) throw new HttpProblem(401, 'UNAUTHENTICATED', 'Credentials are required.');
  const traceparent = request.header('traceparent');
  return {
    tenantId: request.principal.tenantId,
    actor: request.principal.actor,
    correlationId: request.correlationId,
    ...(traceparent ? { traceparent } : {}),
  };
}

export const Ctx = createParamDecorator((_: unknown, context: ExecutionContext): RequestContext =>
  requestContextOf(context.switchToHttp().getRequest<MeridianRequest>()),
);
