import { CronExpressionParser } from 'cron-parser';
import type { Static } from '@sinclair/typebox';
import { tryParseIsoDuration } from '@meridian/domain';
import type { ValidationIssue } from '@meridian/infrastructure/validation/schema-validator';
import { HttpProblem } from '../http/problem-details';
import type { TriggerConditionSchema } from './trigger-definition.schema';

/**
 * Checks a JSON Schema cannot express, made where the request arrives so a client learns every
 * problem at once with JSON pointer paths, as for schema errors: ISO-8601 durations, cron
 * expressions (the domain leaves their syntax to the edge) and IANA time zones.
 */

/** Whether the runtime's Intl (full ICU) knows the zone: the same zones cron-parser can schedule in. */
export function isIanaTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why `cron` is not a usable schedule, or null when it is. Accepted: five fields (minute hour
 * day-of-month month day-of-week), six with leading seconds, or one of cron-parser's @-aliases
 * (@hourly, @daily, @weekly, @monthly, @yearly…). cron-parser alone would read fewer fields, or an
 * empty string, as a schedule by filling in defaults; a typo must not become "every minute".
 */
export function cronExpressionProblem(cron: string, timezone?: string): string | null {
  const expression = cron.trim();
  const fields = expression.split(/\s+/).length;
  if (!expression.startsWith('@') && fields !== 5 && fields !== 6) {
    return `"${cron}" has ${expression === '' ? 0 : fields} fields; a cron expression has 5 (minute hour day-of-month month day-of-week), or 6 with leading seconds`;
  }
  try {
    // Computing an occurrence also refuses schedules that can never fire, such as 30 February.
    CronExpressionParser.parse(expression, timezone !== undefined ? { tz: timezone } : {}).next();
    return null;
  } catch (error) {
    return `"${cron}" is not a valid cron expression: ${error instanceof Error ? error.message : String(error)}`;
  }
}

type TriggerCondition = Static<typeof TriggerConditionSchema>;

function duration(value: string, path: string, issues: ValidationIssue[]): void {
  const parsed = tryParseIsoDuration(value);
  if (!parsed.ok) issues.push({ path, message: parsed.reason });
}

function conditionIssues(condition: TriggerCondition, issues: ValidationIssue[]): void {
  if ('within' in condition) duration(condition.within, '/condition/within', issues);
  if (condition.kind !== 'schedule') return;
  const timezone = condition.timezone;
  const knownZone = timezone === undefined || isIanaTimeZone(timezone);
  if (!knownZone) issues.push({ path: '/condition/timezone', message: `"${timezone}" is not an IANA time zone such as Europe/Paris or UTC` });
  const problem = cronExpressionProblem(condition.cron, knownZone ? timezone : undefined);
  if (problem !== null) issues.push({ path: '/condition/cron', message: problem });
}

/** Every semantic problem of a schema-valid create or change request (empty when none). */
export function triggerRequestIssues(request: { readonly condition?: TriggerCondition; readonly cooldown?: string | null }): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (request.condition !== undefined) conditionIssues(request.condition, issues);
  if (typeof request.cooldown === 'string') duration(request.cooldown, '/cooldown', issues);
  return issues;
}

/** 400 VALIDATION_FAILED, shaped like schema errors, when the request has any semantic problem. */
export function assertValidTriggerRequest(request: { readonly condition?: TriggerCondition; readonly cooldown?: string | null }): void {
  const issues = triggerRequestIssues(request);
  if (issues.length > 0) throw new HttpProblem(400, 'VALIDATION_FAILED', 'The request is not valid.', { errors: issues });
}
