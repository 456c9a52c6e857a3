import { invalid } from '../shared/domain-error';

/**
 * ISO-8601 durations (`PT2H`, `P1DT12H`, `PT0.5S`, `P2W`) as milliseconds, for trigger windows and
 * cooldowns. A day is 24 hours and a week 7 days. Years and months are refused: their length
 * depends on the calendar date, and a sliding window needs a fixed length (write `P30D`).
 * Only the smallest unit given may have a fraction (`.` or `,`), as the standard says.
 */
export type IsoDurationResult = { readonly ok: true; readonly milliseconds: number } | { readonly ok: false; readonly reason: string };

const PATTERN =
  /^P(?:(\d+(?:[.,]\d+)?)Y)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Milliseconds per unit, in the order of the pattern's groups (years and months have none). */
const UNIT_MS = [null, null, 7 * DAY, DAY, HOUR, 60_000, 1_000] as const;

const malformed = (text: string): IsoDurationResult => ({
  ok: false,
  reason: `"${text}" is not an ISO-8601 duration such as PT10M, PT2H or P1DT12H`,
});

export function tryParseIsoDuration(value: unknown): IsoDurationResult {
  if (typeof value !== 'string') return { ok: false, reason: 'must be an ISO-8601 duration string such as PT10M' };
  if (value.startsWith('-')) return { ok: false, reason: `"${value}" is negative; durations must be positive` };
  const match = PATTERN.exec(value);
  // "P" and "PT…" with nothing after the designator match the pattern but name no amount.
  if (match === null || value === 'P' || value.endsWith('T')) return malformed(value);
  const amounts = match.slice(1);
  const given = amounts.flatMap((amount, index) => (amount === undefined ? [] : [index]));
  if (given.length === 0) return malformed(value);
  if (amounts[0] !== undefined || amounts[1] !== undefined) {
    return { ok: false, reason: `"${value}" uses years or months, whose length varies; use days, e.g. P30D` };
  }
  const smallest = given[given.length - 1];
  let milliseconds = 0;
  for (const index of given) {
    const text = (amounts[index] as string).replace(',', '.');
    if (text.includes('.') && index !== smallest) {
      return { ok: false, reason: `"${value}" has a fraction on a unit other than the smallest one` };
    }
    milliseconds += Number(text) * (UNIT_MS[index] as number);
  }
  milliseconds = Math.round(milliseconds);
  if (!Number.isSafeInteger(milliseconds)) return { ok: false, reason: `"${value}" is too long` };
  if (milliseconds <= 0) return { ok: false, reason: `"${value}" is zero; durations must be positive` };
  return { ok: true, milliseconds };
}

/** The duration in milliseconds, or a VALIDATION_FAILED error naming `field`. */
export function parseIsoDuration(value: unknown, field: string): number {
  const result = tryParseIsoDuration(value);
  if (!result.ok) throw invalid('VALIDATION_FAILED', `${field}: ${result.reason}`, { errors: [{ path: field, message: result.reason }] });
  return result.milliseconds;
}
