import { invalid } from '../shared/domain-error';
import { tryParseIsoDuration } from './iso-duration';
import {
  MAX_TRIGGER_NAME_LENGTH,
  TRIGGER_ACTION_KINDS,
  TRIGGER_CONDITION_KINDS,
  TRIGGER_SCOPES,
  type TriggerAction,
  type TriggerCondition,
  type TriggerEventMatch,
  type TriggerScope,
} from './trigger.definition';

/**
 * Validation of trigger definitions. As for agents, the domain checks shapes as well as
 * invariants and collects every problem; paths are relative to the request body (`condition.within`).
 * Results carry only known fields, with `per` defaulted to `subject`.
 */
export interface TriggerValidationIssue {
  readonly path: string;
  readonly message: string;
}
type Issues = TriggerValidationIssue[];

export function triggerValidationFailed(issues: readonly TriggerValidationIssue[]) {
  return invalid('VALIDATION_FAILED', issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '), { errors: issues });
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isNonBlank = (value: unknown): value is string => typeof value === 'string' && value.trim().length > 0;
const isOneOf = <T extends string>(values: readonly T[], value: unknown): value is T =>
  typeof value === 'string' && (values as readonly string[]).includes(value);
const MATCH_TYPE_PATTERN = /^[^*\s]*\*?$/;

function text(value: unknown, path: string, issues: Issues): string {
  if (!isNonBlank(value)) issues.push({ path, message: 'is required and must be a non-empty string' });
  return typeof value === 'string' ? value : '';
}

function optionalText(value: unknown, path: string, issues: Issues): string | undefined {
  if (value === undefined) return undefined;
  return text(value, path, issues);
}

export function validateTriggerName(value: unknown, issues: Issues): string {
  if (!isNonBlank(value) || value.length > MAX_TRIGGER_NAME_LENGTH) {
    issues.push({ path: 'name', message: `must be 1–${MAX_TRIGGER_NAME_LENGTH} characters` });
  }
  return typeof value === 'string' ? value : '';
}

/** A positive ISO-8601 duration, or an issue naming the field. */
export function validateDuration(value: unknown, path: string, issues: Issues): string {
  const result = tryParseIsoDuration(value);
  if (!result.ok) issues.push({ path, message: result.reason });
  return typeof value === 'string' ? value : '';
}

function match(value: unknown, path: string, issues: Issues): TriggerEventMatch {
  if (!isRecord(value)) {
    issues.push({ path, message: 'must be { type, filter? }' });
    return { type: '' };
  }
  const type = text(value.type, `${path}.type`, issues);
  if (type !== '' && !MATCH_TYPE_PATTERN.test(type)) {
    issues.push({ path: `${path}.type`, message: 'must be an event type, or a prefix ending in a single trailing *' });
  }
  if (value.filter !== undefined && !isRecord(value.filter)) issues.push({ path: `${path}.filter`, message: 'must be a JSON Logic object' });
  return { type, ...(isRecord(value.filter) && { filter: value.filter }) };
}

function scope(value: unknown, issues: Issues): TriggerScope {
  if (value === undefined) return 'subject';
  if (!isOneOf(TRIGGER_SCOPES, value)) issues.push({ path: 'condition.per', message: `must be ${TRIGGER_SCOPES.join(' or ')}` });
  return isOneOf(TRIGGER_SCOPES, value) ? value : 'subject';
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function validateTriggerCondition(value: unknown, issues: Issues): TriggerCondition {
  const fallback: TriggerCondition = { kind: 'event', match: { type: '' } };
  if (!isRecord(value) || !isOneOf(TRIGGER_CONDITION_KINDS, value.kind)) {
    issues.push({ path: 'condition.kind', message: `must be one of ${TRIGGER_CONDITION_KINDS.join(', ')}` });
    return fallback;
  }
  switch (value.kind) {
    case 'event':
      return { kind: 'event', match: match(value.match, 'condition.match', issues) };
    case 'threshold': {
      const { count } = value;
      if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
        issues.push({ path: 'condition.count', message: 'must be a positive integer' });
      }
      return {
        kind: 'threshold',
        match: match(value.match, 'condition.match', issues),
        count: typeof count === 'number' ? count : 0,
        within: validateDuration(value.within, 'condition.within', issues),
        per: scope(value.per, issues),
      };
    }
    case 'sequence': {
      const steps = Array.isArray(value.steps) ? value.steps : [];
      if (steps.length < 2) issues.push({ path: 'condition.steps', message: 'a sequence needs at least two steps' });
      return {
        kind: 'sequence',
        steps: steps.map((step: unknown, index) => match(step, `condition.steps[${index}]`, issues)),
        within: validateDuration(value.within, 'condition.within', issues),
        per: scope(value.per, issues),
      };
    }
    case 'absence':
      return {
        kind: 'absence',
        first: match(value.first, 'condition.first', issues),
        then: match(value.then, 'condition.then', issues),
        within: validateDuration(value.within, 'condition.within', issues),
        per: scope(value.per, issues),
      };
    case 'schedule': {
      const timezone = optionalText(value.timezone, 'condition.timezone', issues);
      if (timezone !== undefined && timezone !== '' && !isTimeZone(timezone)) {
        issues.push({ path: 'condition.timezone', message: `"${timezone}" is not an IANA time zone` });
      }
      return { kind: 'schedule', cron: text(value.cron, 'condition.cron', issues), ...(timezone !== undefined && { timezone }) };
    }
    case 'state': {
      const subjectType = optionalText(value.subjectType, 'condition.subjectType', issues);
      if (!isRecord(value.predicate)) issues.push({ path: 'condition.predicate', message: 'must be a JSON Logic object' });
      return {
        kind: 'state',
        ...(subjectType !== undefined && { subjectType }),
        predicate: isRecord(value.predicate) ? value.predicate : {},
      };
    }
  }
}

export function validateTriggerAction(value: unknown, issues: Issues): TriggerAction {
  if (!isRecord(value) || !isOneOf(TRIGGER_ACTION_KINDS, value.kind)) {
    issues.push({ path: 'action.kind', message: `must be one of ${TRIGGER_ACTION_KINDS.join(', ')}` });
    return { kind: 'wake-agent', task: '' };
  }
  switch (value.kind) {
    case 'wake-agent':
      return { kind: 'wake-agent', task: text(value.task, 'action.task', issues) };
    case 'send-message':
      return { kind: 'send-message', to: text(value.to, 'action.to', issues), content: text(value.content, 'action.content', issues) };
    case 'emit-event': {
      const subject = optionalText(value.subject, 'action.subject', issues);
      return {
        kind: 'emit-event',
        eventType: text(value.eventType, 'action.eventType', issues),
        ...(subject !== undefined && { subject }),
        ...(value.data !== undefined && { data: value.data }),
      };
    }
  }
}
