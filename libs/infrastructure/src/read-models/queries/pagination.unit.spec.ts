import { DomainError } from '@meridian/domain';
import { decodeCursor, encodeCursor, MAX_PAGE_LIMIT, pageLimit, toPage } from './pagination';

describe('pagination', () => {
  it('round-trips a cursor and hides the position in it', () => {
    const cursor = encodeCursor(1234);
    expect(cursor).not.toContain('1234');
    expect(decodeCursor(cursor)).toBe(1234);
    expect(decodeCursor(undefined)).toBeNull();
    expect(decodeCursor('')).toBeNull();
  });

  it('rejects a cursor it did not issue with a validation error', () => {
    for (const bad of ['abc', Buffer.from('{"p":-1}').toString('base64url'), Buffer.from('{"p":"1"}').toString('base64url'), Buffer.from('[1]').toString('base64url')]) {
      expect(() => decodeCursor(bad)).toThrow(DomainError);
      try {
        decodeCursor(bad);
      } catch (error) {
        expect(error).toMatchObject({ code: 'INVALID_CURSOR', kind: 'validation' });
      }
    }
  });

  it('defaults the limit to 50, caps it at 500, and rejects non-positive or fractional limits', () => {
    expect(pageLimit(undefined)).toBe(50);
    expect(pageLimit(10)).toBe(10);
    expect(pageLimit(100_000)).toBe(MAX_PAGE_LIMIT);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => pageLimit(bad)).toThrow(expect.objectContaining({ code: 'INVALID_LIMIT' }));
  });

  it('gives a next cursor only when a row beyond the page was fetched', () => {
    const rows = [{ p: 1 }, { p: 2 }, { p: 3 }];
    const full = toPage(rows, 2, (row) => row.p, (row) => row.p);
    expect(full.items).toEqual([1, 2]);
    expect(decodeCursor(full.nextCursor)).toBe(2);
    expect(toPage(rows, 3, (row) => row.p, (row) => row.p).nextCursor).toBeNull();
  });
});
