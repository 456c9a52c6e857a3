import { randomUUID } from 'node:crypto';
import type { CommandContext } from '@meridian/domain';
import type { RequestContext } from '../http/request-context.decorator';
import { HttpProblem } from '../http/problem-details';

/** Time and ids enter the domain here, never inside a decider. */
export function commandContext(ctx: RequestContext): CommandContext {
  return { now: new Date().toISOString(), actor: ctx.actor, tenantId: ctx.tenantId, correlationId: ctx.correlationId, newId: randomUUID };
}

/** `If-Match: "<revision>"` → the exact revision the client saw; absent → undefined. */
export function expectedRevisionFrom(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(ifMatch);
  if (!match) throw new HttpProblem(400, 'INVALID_IF_MATCH', 'If-Match must be an ETag returned by a read, like "3".');
  return Number(match[1]);
}

export function etag(revision: number): string {
  return `"${revision}"`;
}
