/**
 * GraphQL lets a client send an optional argument as an explicit `null`; the read repositories take
 * `undefined` for "not given". These helpers make the two mean the same.
 */
export function given<T>(value: T | null | undefined): T | undefined {
  return value === null ? undefined : value;
}

/** `limit` and `cursor` of any paged field. */
export interface PageArgs {
  readonly limit?: number | null;
  readonly cursor?: string | null;
}

/** What every root read accepts: the position a write answered with, to read that write. */
export interface ConsistencyArgs {
  readonly minPosition?: number | null;
}

export function pageOf(args: PageArgs): { limit?: number; cursor: string | null } {
  const limit = given(args.limit);
  return { ...(limit !== undefined ? { limit } : {}), cursor: args.cursor ?? null };
}
