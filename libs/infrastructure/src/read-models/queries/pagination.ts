import { invalid } from '@meridian/domain';

/** A page of a list: `nextCursor` is null on the last page. */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export interface PageRequest {
  /** Default 50, at most 500 (larger values are capped). */
  readonly limit?: number;
  /** Opaque: the `nextCursor` of the previous page. */
  readonly cursor?: string | null;
}

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw invalid('INVALID_LIMIT', 'limit must be a positive integer', { limit });
  return Math.min(limit, MAX_PAGE_LIMIT);
}

/**
 * Cursors are keyset positions (the global position of the last row's creating event), encoded so
 * clients treat them as opaque and cannot confuse them with a position parameter.
 */
export function encodeCursor(position: number): string {
  return Buffer.from(JSON.stringify({ p: position }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined): number | null {
  if (cursor === undefined || cursor === null || cursor === '') return null;
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof decoded === 'object' && decoded !== null && 'p' in decoded) {
      const position = (decoded as { p: unknown }).p;
      if (typeof position === 'number' && Number.isSafeInteger(position) && position >= 0) return position;
    }
  } catch {
    // fall through: any undecodable cursor is the same client error
  }
  throw invalid('INVALID_CURSOR', 'cursor is not one this API returned', { cursor });
}

/** Builds a page from `limit + 1` fetched rows: the extra row only says whether there is a next page. */
export function toPage<Row, Item>(rows: readonly Row[], limit: number, keyOf: (row: Row) => number, toItem: (row: Row) => Item): Page<Item> {
  const pageRows = rows.slice(0, limit);
  const last = pageRows[pageRows.length - 1];
  return {
    items: pageRows.map(toItem),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}
