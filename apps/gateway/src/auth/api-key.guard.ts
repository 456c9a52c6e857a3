import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext } from '@nestjs/graphql';
import { API_KEY_SERVICE, type ApiKeyService } from '@meridian/infrastructure/auth/api-key.service';
import type { MeridianRequest } from '../http/meridian-request';
import { HttpProblem } from '../http/problem-details';
import { credentialsFrom } from './credentials';
import { IS_PUBLIC } from '@meridian/infrastructure/operations/public.decorator';
import { REQUIRED_ROLES } from './roles.decorator';
import type { Role } from '@meridian/infrastructure/auth/principal';

/** Authentication on by default: every route needs a valid key unless marked @Public(). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(API_KEY_SERVICE) private readonly apiKeys: ApiKeyService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const type = context.getType<string>();
    if (type === 'ws') return true; // the WebSocket gateway authenticates on connection
    const request: MeridianRequest =
      type === 'graphql' ? GqlExecutionContext.create(context).getContext<{ req: MeridianRequest }>().req : context.switchToHttp().getRequest<MeridianRequest>();
    const key = credentialsFrom(request.headers);
    if (!key) throw new HttpProblem(401, 'UNAUTHENTICATED', 'Credentials are required: send X-API-Key or Authorization: Bearer.');
    const principal = this.apiKeys.authenticate(key);
    if (!principal) throw new HttpProblem(401, 'INVALID_CREDENTIALS', 'The API key is not valid.');
    request.principal = principal;
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(REQUIRED_ROLES, [context.getHandler(), context.getClass()]);
    if (roles && !roles.includes(principal.role)) {
      throw new HttpProblem(403, 'FORBIDDEN', `This route needs one of the roles: ${roles.join(', ')}.`);
    }
    return true;
  }
}
