import { DomainError } from '../shared/domain-error';
import { parseIsoDuration, tryParseIsoDuration } from './iso-duration';

const ms = (value: string) => {
  const result = tryParseIsoDuration(value);
  if (!result.ok) throw new Error(result.reason);
  return result.milliseconds;
};

describe('ISO-8601 durations', () => {
  it.each([
    ['PT10M', 600_000],
    ['PT2H', 7_200_000],
    ['PT30S', 30_000],
    ['P1D', 86_400_000],
    ['P2W', 14 * 86_400_000],
    ['P1DT12H', 36 * 3_600_000],
    ['PT1H30M15S', 5_415_000],
    ['P1W2D', 9 * 86_400_000],
    ['PT0.5S', 500],
    ['PT1,5H', 5_400_000],
    ['PT0.001S', 1],
    ['PT90M', 5_400_000],
  ])('%s is %d ms', (text, expected) => {
    expect(ms(text)).toBe(expected);
  });

  it.each([
    ['', /not an ISO-8601 duration/],
    ['P', /not an ISO-8601 duration/],
    ['PT', /not an ISO-8601 duration/],
    ['P1DT', /not an ISO-8601 duration/],
    ['10M', /not an ISO-8601 duration/],
    ['pt10m', /not an ISO-8601 duration/],
    ['PT10m', /not an ISO-8601 duration/],
    ['P1H', /not an ISO-8601 duration/],
    ['PT1M2H', /not an ISO-8601 duration/],
    ['PT 10M', /not an ISO-8601 duration/],
    ['PT.5S', /not an ISO-8601 duration/],
    ['-PT10M', /negative/],
    ['PT0S', /zero/],
    ['P0D', /zero/],
    ['PT0.0001S', /zero/],
    ['P1Y', /years or months/],
    ['P2M', /years or months/],
    ['PT1.5H30M', /fraction/],
    ['P99999999999999999999D', /too long/],
  ])('refuses %j', (text, reason) => {
    const result = tryParseIsoDuration(text);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(reason);
  });

  it('refuses what is not a string', () => {
    expect(tryParseIsoDuration(600).ok).toBe(false);
    expect(tryParseIsoDuration(undefined).ok).toBe(false);
  });

  it('throws VALIDATION_FAILED naming the field', () => {
    expect(parseIsoDuration('PT2H', 'condition.within')).toBe(7_200_000);
    let caught: unknown;
    try {
      parseIsoDuration('PT0S', 'cooldown');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DomainError);
    expect(caught).toMatchObject({ code: 'VALIDATION_FAILED', kind: 'validation', message: expect.stringMatching(/^cooldown: /) });
    expect((caught as DomainError).details).toEqual({ errors: [{ path: 'cooldown', message: expect.stringMatching(/zero/) }] });
  });
});
