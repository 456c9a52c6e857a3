import { CallHandler, ExecutionContext, Inject, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { createHash } from 'node:crypto';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { IDEMPOTENCY_STORE, type IdempotencyStore } from '@meridian/infrastructure/idempotency/idempotency.store';
import type { MeridianRequest } from './meridian-request';
import { HttpProblem } from './problem-details';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Headers that are part of "the first response" besides status and body. */
const REPLAYED_HEADERS = ['location', 'etag'];

/**
 * What makes two requests "the same": the content type, every CloudEvents binary-mode `ce-*`
 * header (they carry the event's identity there), and the raw body.
 */
function fingerprintOf(request: MeridianRequest): string {
  const hash = createHash('sha256').update(request.header('content-type') ?? '').update('\n');
  for (const name of Object.keys(request.headers).filter((h) => h.startsWith('ce-')).sort()) {
    hash.update(`${name}:${String(request.headers[name])}\n`);
  }
  return hash.update(request.rawBody ?? Buffer.alloc(0)).digest('hex');
}

/**
 * `Idempotency-Key` on any POST: the same key with the same body returns the first response
 * (marked `Idempotent-Replayed: true`); the same key with another body is 422; a retry while the
 * first is still running is 409. Only successful responses are remembered: a rejected request
 * changed nothing, so retrying it is safe and gets a fresh answer.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly logger = new Logger('Idempotency');

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
    const fingerprint = fingerprintOf(request);
    const claim = await this.store.claim(scope, key, fingerprint, Date.now());
    switch (claim.kind) {
      case 'mismatch':
        throw new HttpProblem(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request body.');
      case 'in-progress':
        throw new HttpProblem(409, 'IDEMPOTENCY_KEY_IN_PROGRESS', 'A request with this Idempotency-Key is still being processed; retry later.');
      case 'replay':
        response.status(claim.response.status);
        for (const [name, value] of Object.entries(claim.response.headers ?? {})) response.setHeader(name, value);
        response.setHeader('Idempotent-Replayed', 'true');
        return claim.response.body;
      case 'claimed':
        break;
    }
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      await this.store.release(scope, key);
      throw error;
    }
    // The command has taken effect: never turn that into an error or release the key (a retry would
    // run it twice). If remembering fails, the claim's lease runs out and the key is usable again.
    const headers: Record<string, string> = {};
    for (const name of REPLAYED_HEADERS) {
      const value = response.getHeader(name);
      if (typeof value === 'string') headers[name] = value;
    }
    try {
      await this.store.complete(scope, key, { status: response.statusCode, body, headers }, Date.now());
    } catch (error) {
      this.logger.error({ err: error, scope }, 'Could not remember an idempotent response');
    }
    return body;
  }
}

