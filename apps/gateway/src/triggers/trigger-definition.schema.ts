import { Type } from '@sinclair/typebox';
import { MAX_TRIGGER_NAME_LENGTH, TRIGGER_SCOPES } from '@meridian/domain';

/**
 * HTTP shapes of a trigger definition (API.md "Triggers"). What a schema cannot say — durations,
 * cron expressions, time zones — trigger-request.validation.ts checks next; the decider checks the
 * invariants again.
 */
const strict = { additionalProperties: false } as const;

/** Same id rule as agents: ids appear in URLs and stream names. */
const Id = (description: string) => Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$', description });
const NonBlank = (maxLength: number) => Type.String({ maxLength, pattern: '\\S' });
const JsonLogic = Type.Record(Type.String(), Type.Unknown(), { description: 'A JSON Logic expression' });
const Template = Type.String({ maxLength: 10_000, pattern: '\\S', description: 'A template: {{…}} placeholders are rendered when the trigger fires' });
export const DurationSchema = Type.String({ minLength: 2, maxLength: 64, description: 'ISO-8601 duration such as PT10M, PT2H or P1DT12H (days at most: no years or months)' });

const EventMatch = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 256, pattern: '^[^*\\s]*\\*?$', description: 'An event type, or a prefix ending in *' }),
    filter: Type.Optional(JsonLogic),
  },
  strict,
);
const Per = Type.Optional(Type.Union(TRIGGER_SCOPES.map((scope) => Type.Literal(scope)), { description: 'Count per subject (default) or across all subjects' }));

const EventCondition = Type.Object({ kind: Type.Literal('event'), match: EventMatch }, strict);
const ThresholdCondition = Type.Object(
  { kind: Type.Literal('threshold'), match: EventMatch, count: Type.Integer({ minimum: 1, maximum: 1_000_000 }), within: DurationSchema, per: Per },
  strict,
);
const SequenceCondition = Type.Object(
  { kind: Type.Literal('sequence'), steps: Type.Array(EventMatch, { minItems: 2, maxItems: 20 }), within: DurationSchema, per: Per },
  strict,
);
const AbsenceCondition = Type.Object({ kind: Type.Literal('absence'), first: EventMatch, then: EventMatch, within: DurationSchema, per: Per }, strict);
const ScheduleCondition = Type.Object(
  {
    kind: Type.Literal('schedule'),
    cron: Type.String({ minLength: 1, maxLength: 256, description: 'Cron: 5 fields, 6 with leading seconds, or @hourly, @daily, @weekly, @monthly, @yearly…' }),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone; UTC when absent' })),
  },
  strict,
);
const StateCondition = Type.Object(
  { kind: Type.Literal('state'), subjectType: Type.Optional(NonBlank(256)), predicate: JsonLogic },
  strict,
);
export const TriggerConditionSchema = Type.Union([EventCondition, ThresholdCondition, SequenceCondition, AbsenceCondition, ScheduleCondition, StateCondition]);

const WakeAgentAction = Type.Object({ kind: Type.Literal('wake-agent'), task: Template }, strict);
const SendMessageAction = Type.Object({ kind: Type.Literal('send-message'), to: NonBlank(256), content: Template }, strict);
const EmitEventAction = Type.Object(
  { kind: Type.Literal('emit-event'), eventType: NonBlank(256), subject: Type.Optional(NonBlank(1024)), data: Type.Optional(Type.Unknown()) },
  strict,
);
export const TriggerActionSchema = Type.Union([WakeAgentAction, SendMessageAction, EmitEventAction]);

const Name = NonBlank(MAX_TRIGGER_NAME_LENGTH);

export const CreateTriggerRequestSchema = Type.Object(
  {
    id: Type.Optional(Id('Client-supplied id; a UUID is generated when absent')),
    name: Name,
    agentId: Id('The owning agent: it must exist and not be retired'),
    condition: TriggerConditionSchema,
    action: TriggerActionSchema,
    cooldown: Type.Optional(DurationSchema),
    enabled: Type.Optional(Type.Boolean({ description: 'true when absent' })),
  },
  { ...strict, $id: 'CreateTriggerRequest' },
);

/** Present fields replace the current ones; `cooldown: null` removes it. The owning agent never changes. */
export const ChangeTriggerRequestSchema = Type.Object(
  {
    name: Type.Optional(Name),
    condition: Type.Optional(TriggerConditionSchema),
    action: Type.Optional(TriggerActionSchema),
    cooldown: Type.Optional(Type.Union([DurationSchema, Type.Null()])),
  },
  { ...strict, minProperties: 1, $id: 'ChangeTriggerRequest' },
);
