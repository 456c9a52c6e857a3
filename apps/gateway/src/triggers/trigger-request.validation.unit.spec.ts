import { HttpProblem } from '../http/problem-details';
import { assertValidTriggerRequest, cronExpressionProblem, isIanaTimeZone, triggerRequestIssues } from './trigger-request.validation';

describe('trigger request validation at the edge', () => {
  describe('cron expressions', () => {
    it.each(['0 9 * * 1-5', '*/5 * * * *', '0 0 9 * * MON-FRI', '@daily', '@hourly', '0 0 29 2 *', '  0 9 * * *  '])('accepts %j', (cron) => {
      expect(cronExpressionProblem(cron)).toBeNull();
    });

    it.each([
      ['not a cron', /has 3 fields/],
      ['every day at nine sharp', /not a valid cron expression/],
      ['61 * * * *', /not a valid cron expression/],
      ['* * *', /has 3 fields/],
      ['', /has 0 fields/],
      ['   ', /has 0 fields/],
      ['* * * * * * *', /has 7 fields/],
      ['0 0 30 2 *', /not a valid cron expression/],
      ['@sometimes', /not a valid cron expression/],
    ])('refuses %j', (cron, reason) => {
      expect(cronExpressionProblem(cron)).toMatch(reason);
    });
  });

  it('knows IANA zones and refuses others', () => {
    expect(isIanaTimeZone('Europe/Paris')).toBe(true);
    expect(isIanaTimeZone('UTC')).toBe(true);
    expect(isIanaTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isIanaTimeZone('+01:00')).toBe(false);
  });

  it('accepts the API.md example', () => {
    const condition = { kind: 'absence' as const, first: { type: 'order.placed' }, then: { type: 'order.shipped' }, within: 'PT2H', per: 'subject' as const };
    expect(triggerRequestIssues({ condition, cooldown: 'PT10M' })).toEqual([]);
  });

  it('reports every problem at once, with JSON pointer paths', () => {
    expect(triggerRequestIssues({ condition: { kind: 'schedule', cron: '* * *', timezone: 'Nowhere/Land' }, cooldown: 'P1M' })).toEqual([
      { path: '/condition/timezone', message: expect.stringContaining('IANA') },
      { path: '/condition/cron', message: expect.stringContaining('3 fields') },
      { path: '/cooldown', message: expect.stringContaining('months') },
    ]);
    expect(triggerRequestIssues({ condition: { kind: 'threshold', match: { type: 'order.*' }, count: 3, within: '2 hours' } })).toEqual([
      { path: '/condition/within', message: expect.stringContaining('ISO-8601') },
    ]);
  });

  it('lets a change remove the cooldown and leave the condition alone', () => {
    expect(triggerRequestIssues({ cooldown: null })).toEqual([]);
  });

  it('throws 400 VALIDATION_FAILED with the issues as errors', () => {
    let thrown: unknown;
    try {
      assertValidTriggerRequest({ condition: { kind: 'schedule', cron: 'every day' } });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HttpProblem);
    expect(thrown).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', extra: { errors: [{ path: '/condition/cron' }] } });
  });
});
