import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { HttpMetrics } from './http-metrics';

/** The label of requests that matched no route (404s, probes of random paths). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts and times HTTP responses when they finish, so those answered before a handler runs (401
 * from the auth guard) and 404s count too. Labelled by the matched route pattern
 * (`/api/v1/agents/:id`), never the raw URL: ids in paths would make the series unbounded.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(@Inject(HttpMetrics) private readonly metrics: HttpMetrics) {}

  use(request: Request, response: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    response.once('finish', () => {
      const labels = { method: request.method, route: routeOf(request), status: String(response.statusCode) };
      this.metrics.requests.inc(labels);
      this.metrics.duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  }
}

/**
 * Nest mounts middleware bound to every path and method as an Express route on this pattern, so a
 * request that no controller route matched still carries it as `request.route`.
 */
const MIDDLEWARE_CATCH_ALL = '/{*path}';

/**
 * Handlers mounted with `use()` rather than declared as routes: GraphQL (Apollo) and the OpenAPI UI.
 * Express leaves their mount path in `request.baseUrl`, which is the raw matched URL prefix (any
 * case), so only these fixed paths become labels.
 */
const MOUNTED_PATHS: ReadonlySet<string> = new Set(['/graphql', '/docs']);

/** Express sets `request.route` to the last route that matched; its `path` is the declared pattern. */
function routeOf(request: Request): string {
  const route: unknown = request.route;
  if (typeof route === 'object' && route !== null && 'path' in route && typeof route.path === 'string' && route.path !== MIDDLEWARE_CATCH_ALL) return route.path;
  const mount = request.baseUrl.toLowerCase();
  return MOUNTED_PATHS.has(mount) ? mount : UNMATCHED_ROUTE;
}
