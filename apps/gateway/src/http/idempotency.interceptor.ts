import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { createHash } from 'node:crypto';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { IDEMPOTENCY_STORE, type IdempotencyStore } from '@meridian/infrastructure/idempotency/idempotency.store';
import type { MeridianRequest } from './meridian-request';
import { HttpProblem } from './problem-details';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * `Idempotency-Key` on any POST: the same key with the same body returns the first response
 * (marked `Idempotent-Replayed: true`); the same key with another body is 422; a retry while the
 * first is still running is 409. Only successful responses are remembered: a rejected request
 * changed nothing, so retrying it is safe and gets a fresh answer.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(@Inject(IDEMPOTENCY_STORE) private readonly store: IdempotencyStore) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<MeridianRequest>();
    const key = request.header('idempotency-key');
    if (request.method !== 'POST' || key === undefined) return next.handle();
    return from(this.handle(request, context.switchToHttp().getResponse<Response>(), key, next));
  }

  private async handle(request: MeridianRequest, response: Response, key: string, next: CallHandler): Promise<unknown> {
    if (!KEY_PATTERN.test(key)) {
      throw new HttpProblem(400, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 printable ASCII characters.');
    }
    const who = request.principal ? `${request.principal.tenantId}:${request.principal.actor.id}` : 'anonymous';
    const scope = `${who}:POST ${request.path}`;
    const fingerprint = createHash('sha256')
      .update(request.header('content-type') ?? '')
      .update('\n')
      .update(request.rawBody ?? Buffer.alloc(0))
      .digest('hex');
    const claim = await this.store.claim(scope, key, fingerprint, Date.now());
    switch (claim.kind) {
      case 'mismatch':
        throw new HttpProblem(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request body.');
      case 'in-progress':
        throw new HttpProblem(409, 'IDEMPOTENCY_KEY_IN_PROGRESS', 'A request with this Idempotency-Key is still being processed; retry later.');
      case 'replay':
        response.status(claim.response.status);
        response.setHeader('Idempotent-Replayed', 'true');
        return claim.response.body;
      case 'claimed':
        break;
    }
    try {
      const body = await lastValueFrom(next.handle(), { defaultValue: undefined });
      await this.store.complete(scope, key, { status: response.statusCode, body });
      return body;
    } catch (error) {
      await this.store.release(scope, key);
      throw error;
    }
  }
}

