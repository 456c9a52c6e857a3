import { assertNever, type Decider } from '../shared/decider';
import { conflict, DomainError, notFound } from '../shared/domain-error';
import type { CommandContext } from '../shared/event';
import { tryParseIsoDuration } from './iso-duration';
import { addOccurrenceKey, EMPTY_OCCURRENCE_KEY_SET, hasOccurrenceKey } from './occurrence-key-set';
import {
  triggerValidationFailed,
  validateDuration,
  validateTriggerAction,
  validateTriggerCondition,
  validateTriggerName,
  type TriggerValidationIssue,
} from './trigger-definition.validation';
import type { ChangeTrigger, DefineTrigger, FireTrigger, TriggerCommand, TriggerMatchedEvent } from './trigger.commands';
import type { TriggerDefinition } from './trigger.definition';
import type { TriggerEvent } from './trigger.events';
import { initialTriggerState, type DefinedTriggerState, type TriggerState } from './trigger.state';

export const MAX_OCCURRENCE_KEY_LENGTH = 1_000;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isNonBlank = (value: unknown): value is string => typeof value === 'string' && value.trim().length > 0;
const isTimestamp = (value: unknown): value is string => typeof value === 'string' && !Number.isNaN(Date.parse(value));

const triggerDeleted = (triggerId: string) => new DomainError('TRIGGER_DELETED', 'gone', `Trigger ${triggerId} is deleted`, { triggerId });

/** An existing trigger that is not deleted: after deletion every command is TRIGGER_DELETED. */
function live(state: TriggerState, triggerId: string): DefinedTriggerState {
  if (state === null) throw notFound('TRIGGER_NOT_FOUND', `Trigger ${triggerId} does not exist`, { triggerId });
  if (state.deleted) throw triggerDeleted(state.id);
  return state;
}

function define(command: DefineTrigger, state: TriggerState): TriggerEvent[] {
  const data: unknown = command.data;
  if (state !== null) {
    if (state.deleted) throw triggerDeleted(state.id);
    throw conflict('TRIGGER_ALREADY_EXISTS', `Trigger ${state.id} already exists`, { triggerId: state.id });
  }
  if (!isRecord(data)) throw triggerValidationFailed([{ path: '(body)', message: 'must be an object' }]);
  const issues: TriggerValidationIssue[] = [];
  if (!isNonBlank(data.triggerId)) issues.push({ path: 'triggerId', message: 'is required' });
  const name = validateTriggerName(data.name, issues);
  if (!isNonBlank(data.agentId)) issues.push({ path: 'agentId', message: 'is required' });
  const condition = validateTriggerCondition(data.condition, issues);
  const action = validateTriggerAction(data.action, issues);
  const cooldown = data.cooldown === undefined ? undefined : validateDuration(data.cooldown, 'cooldown', issues);
  if (data.enabled !== undefined && typeof data.enabled !== 'boolean') issues.push({ path: 'enabled', message: 'must be a boolean' });
  if (issues.length > 0) throw triggerValidationFailed(issues);
  const definition: TriggerDefinition = { name, condition, action, ...(cooldown !== undefined && { cooldown }) };
  return [
    {
      type: 'trigger.defined',
      data: {
        triggerId: data.triggerId as string,
        agentId: data.agentId as string,
        definition,
        enabled: data.enabled !== false,
        version: 1,
      },
    },
  ];
}

const DEFINITION_FIELDS: readonly (keyof TriggerDefinition)[] = ['name', 'condition', 'action', 'cooldown'];

function change(command: ChangeTrigger, state: TriggerState): TriggerEvent[] {
  const trigger = live(state, command.data.triggerId);
  const changes: unknown = command.data.changes;
  if (!isRecord(changes)) throw triggerValidationFailed([{ path: '(body)', message: 'must be an object' }]);
  const issues: TriggerValidationIssue[] = [];
  const current = trigger.definition;
  const name = changes.name === undefined ? current.name : validateTriggerName(changes.name, issues);
  const condition = changes.condition === undefined ? current.condition : validateTriggerCondition(changes.condition, issues);
  const action = changes.action === undefined ? current.action : validateTriggerAction(changes.action, issues);
  let cooldown = current.cooldown;
  if (changes.cooldown === null) cooldown = undefined;
  else if (changes.cooldown !== undefined) cooldown = validateDuration(changes.cooldown, 'cooldown', issues);
  if (issues.length > 0) throw triggerValidationFailed(issues);

  const definition: TriggerDefinition = { name, condition, action, ...(cooldown !== undefined && { cooldown }) };
  const changed = DEFINITION_FIELDS.filter((key) => JSON.stringify(current[key]) !== JSON.stringify(definition[key]));
  // Asking for the definition the trigger already has makes no new version.
  if (changed.length === 0) return [];
  return [{ type: 'trigger.changed', data: { triggerId: trigger.id, agentId: trigger.agentId, definition, version: trigger.version + 1, changed } }];
}

function validateMatchedEvents(value: unknown, issues: TriggerValidationIssue[]): TriggerMatchedEvent[] {
  if (!Array.isArray(value)) {
    issues.push({ path: 'matchedEvents', message: 'must be an array' });
    return [];
  }
  return value.map((item: unknown, index): TriggerMatchedEvent => {
    const path = `matchedEvents[${index}]`;
    const valid =
      isRecord(item) &&
      isNonBlank(item.eventId) &&
      typeof item.position === 'number' &&
      Number.isSafeInteger(item.position) &&
      item.position >= 0 &&
      isNonBlank(item.type) &&
      (item.subject === undefined || item.subject === null || typeof item.subject === 'string') &&
      (item.time === undefined || isTimestamp(item.time));
    if (!valid) {
      issues.push({ path, message: 'must be { eventId, position (non-negative integer), type, subject (string or null), time? (ISO-8601) }' });
      return { eventId: '', position: 0, type: '', subject: null };
    }
    return {
      eventId: item.eventId as string,
      position: item.position as number,
      type: item.type as string,
      subject: (item.subject as string | null | undefined) ?? null,
      ...(item.time !== undefined && { time: item.time as string }),
    };
  });
}

function fire(command: FireTrigger, state: TriggerState, context: CommandContext): TriggerEvent[] {
  const data = command.data;
  const trigger = live(state, data.triggerId);
  const { occurrenceKey } = data;
  if (!isNonBlank(occurrenceKey) || occurrenceKey.length > MAX_OCCURRENCE_KEY_LENGTH) {
    throw triggerValidationFailed([{ path: 'occurrenceKey', message: `must be 1–${MAX_OCCURRENCE_KEY_LENGTH} characters` }]);
  }
  // Exactly once per (trigger, occurrence key): a second firing for the same occurrence is a no-op,
  // whatever happened since (disabled, cooling down), so evaluators may retry and replay freely.
  if (hasOccurrenceKey(trigger.firedKeys, occurrenceKey)) return [];
  if (!trigger.enabled) throw conflict('TRIGGER_DISABLED', `Trigger ${trigger.id} is disabled`, { triggerId: trigger.id });

  const issues: TriggerValidationIssue[] = [];
  const firedAt = data.firedAt ?? context.now;
  if (!isTimestamp(firedAt)) issues.push({ path: 'firedAt', message: 'must be an ISO-8601 timestamp' });
  if (data.firingId !== undefined && !isNonBlank(data.firingId)) issues.push({ path: 'firingId', message: 'must be a non-empty string' });
  const matchedEvents = validateMatchedEvents(data.matchedEvents, issues);
  if (data.subject !== undefined && data.subject !== null && typeof data.subject !== 'string') issues.push({ path: 'subject', message: 'must be a string or null' });
  if (data.late !== undefined && typeof data.late !== 'boolean') issues.push({ path: 'late', message: 'must be a boolean' });
  if (issues.length > 0) throw triggerValidationFailed(issues);

  if (trigger.cooldownMs !== null && trigger.lastFiredAt !== null) {
    const availableAtMs = Date.parse(trigger.lastFiredAt) + trigger.cooldownMs;
    if (Date.parse(firedAt) < availableAtMs) {
      // Formats a computed instant (no clock is read): when the trigger may fire again.
      const availableAt = new Date(availableAtMs).toISOString();
      throw conflict('TRIGGER_COOLING_DOWN', `Trigger ${trigger.id} is cooling down until ${availableAt}`, {
        triggerId: trigger.id,
        lastFiredAt: trigger.lastFiredAt,
        availableAt,
      });
    }
  }
  return [
    {
      type: 'trigger.fired',
      data: {
        triggerId: trigger.id,
        agentId: trigger.agentId,
        version: trigger.version,
        firingId: data.firingId ?? context.newId(),
        occurrenceKey,
        matchedEvents,
        firedAt,
        action: trigger.definition.action,
        ...(data.subject !== undefined && { subject: data.subject }),
        ...(data.late !== undefined && { late: data.late }),
      },
    },
  ];
}

function decide(command: TriggerCommand, state: TriggerState, context: CommandContext): TriggerEvent[] {
  switch (command.type) {
    case 'DefineTrigger':
      return define(command, state);
    case 'ChangeTrigger':
      return change(command, state);
    case 'EnableTrigger': {
      const trigger = live(state, command.data.triggerId);
      if (trigger.enabled) throw conflict('TRIGGER_ALREADY_ENABLED', `Trigger ${trigger.id} is already enabled`, { triggerId: trigger.id });
      return [{ type: 'trigger.enabled', data: { triggerId: trigger.id, version: trigger.version } }];
    }
    case 'DisableTrigger': {
      const trigger = live(state, command.data.triggerId);
      if (!trigger.enabled) throw conflict('TRIGGER_ALREADY_DISABLED', `Trigger ${trigger.id} is already disabled`, { triggerId: trigger.id });
      return [{ type: 'trigger.disabled', data: { triggerId: trigger.id, version: trigger.version } }];
    }
    case 'DeleteTrigger': {
      const trigger = live(state, command.data.triggerId);
      return [{ type: 'trigger.deleted', data: { triggerId: trigger.id, version: trigger.version } }];
    }
    case 'FireTrigger':
      return fire(command, state, context);
    default:
      return assertNever(command);
  }
}

function cooldownMs(definition: TriggerDefinition): number | null {
  if (definition.cooldown === undefined) return null;
  const parsed = tryParseIsoDuration(definition.cooldown);
  return parsed.ok ? parsed.milliseconds : null;
}

const later = (a: string | null, b: string): string => (a !== null && Date.parse(a) >= Date.parse(b) ? a : b);

function evolve(state: TriggerState, event: TriggerEvent): TriggerState {
  if (event.type === 'trigger.defined') {
    const { triggerId, agentId, definition, enabled, version } = event.data;
    return {
      id: triggerId,
      agentId,
      definition,
      cooldownMs: cooldownMs(definition),
      enabled,
      deleted: false,
      version,
      firingCount: 0,
      lastFiredAt: null,
      firedKeys: EMPTY_OCCURRENCE_KEY_SET,
    };
  }
  // Nothing but a definition can start a trigger's history.
  if (state === null) return state;
  switch (event.type) {
    case 'trigger.changed':
      return { ...state, definition: event.data.definition, cooldownMs: cooldownMs(event.data.definition), version: event.data.version };
    case 'trigger.enabled':
      return { ...state, enabled: true };
    case 'trigger.disabled':
      return { ...state, enabled: false };
    case 'trigger.deleted':
      return { ...state, enabled: false, deleted: true };
    case 'trigger.fired':
      return {
        ...state,
        firingCount: state.firingCount + 1,
        lastFiredAt: later(state.lastFiredAt, event.data.firedAt),
        firedKeys: addOccurrenceKey(state.firedKeys, event.data.occurrenceKey),
      };
    default:
      return assertNever(event);
  }
}

export const triggerDecider: Decider<TriggerState, TriggerCommand, TriggerEvent> = {
  decide,
  evolve,
  initialState: initialTriggerState,
};
