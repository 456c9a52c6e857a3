import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { CORRELATION_HEADER, type MeridianRequest } from './meridian-request';

/** Printable, bounded: a client's correlation id is echoed back and logged, so it must be safe. */
const ACCEPTABLE = /^[A-Za-z0-9._:\-]{1,128}$/;

@Injectable()
export class CorrelationIdMiddleware implements NestMiddleware {
  use(request: MeridianRequest, response: Response, next: NextFunction): void {
    const given = request.header(CORRELATION_HEADER);
    request.correlationId = given && ACCEPTABLE.test(given) ? given : randomUUID();
    response.setHeader('X-Correlation-Id', request.correlationId);
    next();
  }
}
