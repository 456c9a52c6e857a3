import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ConcurrencyConflictError, DomainError, type DomainErrorKind } from '@meridian/domain';
import { SchemaValidationError, type ValidationIssue } from '@meridian/infrastructure/validation/schema-validator';
import type { MeridianRequest } from './meridian-request';
import { HttpProblem, PROBLEM_CONTENT_TYPE, problem, type ProblemDetails } from './problem-details';

const STATUS_BY_KIND: Record<DomainErrorKind, number> = {
  validation: 400,
  'not-found': 404,
  conflict: 409,
  gone: 410,
  forbidden: 403,
  unprocessable: 422,
};

const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'ROUTE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/** Domain validation paths read like code (`engine.rules[0].then`); the API speaks JSON pointers (`/engine/rules/0/then`). */
function asPointer(issue: ValidationIssue): ValidationIssue {
  if (issue.path === '' || issue.path.startsWith('/')) return issue;
  return { ...issue, path: '/' + issue.path.replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean).join('/') };
}

/**
 * Every error leaves the HTTP API as problem+json with a stable code. Domain errors map by kind,
 * concurrency conflicts are 412 (the client's precondition no longer holds), anything unexpected is
 * a logged 500 that reveals nothing internal.
 */
export function toProblem(error: unknown, correlationId: string): ProblemDetails {
  if (error instanceof HttpProblem) {
    return problem(error.status, error.code, error.message, correlationId, error.extra);
  }
  if (error instanceof SchemaValidationError) {
    return problem(400, 'VALIDATION_FAILED', 'The request is not valid.', correlationId, { errors: error.issues });
  }
  if (error instanceof DomainError) {
    const extra = error.details && Array.isArray(error.details.errors) ? { errors: (error.details.errors as ValidationIssue[]).map(asPointer) } : {};
    return problem(STATUS_BY_KIND[error.kind], error.code, error.message, correlationId, extra);
  }
  if (error instanceof ConcurrencyConflictError) {
    return problem(412, 'CONCURRENCY_CONFLICT', error.message, correlationId, {
      expected: error.expected,
      actual: error.actual,
    });
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    const detail = typeof response === 'string' ? response : ((response as { message?: unknown }).message?.toString() ?? error.message);
    return problem(status, CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST'), detail, correlationId);
  }
  return problem(500, 'INTERNAL_ERROR', 'An unexpected error occurred; it has been logged with this correlation id.', correlationId);
}

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw error;
    const ctx = host.switchToHttp();
    const request = ctx.getRequest<MeridianRequest>();
    const response = ctx.getResponse<Response>();
    const body = toProblem(error, request.correlationId ?? 'unknown');
    if (body.status >= 500) {
      this.logger.error({ err: error, correlationId: body.correlationId, path: request.url }, 'Unhandled error');
    }
    if (response.headersSent) return;
    response.status(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
  }
}
