import { Type, type TSchema } from '@sinclair/typebox';
import { AGENT_KINDS, AGENT_MAILBOX_POLICIES, AGENT_TOOLS, LLM_PROVIDERS, WEBHOOK_METHODS } from '@meridian/domain';

/** HTTP shapes of an agent definition (API.md "Agents"); the decider checks the invariants. */
const strict = { additionalProperties: false } as const;
const literals = (values: readonly string[]): TSchema => Type.Union(values.map((v) => Type.Literal(v)));

const JsonLogic = Type.Record(Type.String(), Type.Unknown(), { description: 'A JSON Logic expression' });
const Template = Type.String({ minLength: 1, maxLength: 10_000, description: 'A template: {{…}} placeholders are rendered from the decision input' });

const ReplyAction = Type.Object({ action: Type.Literal('reply'), text: Template }, strict);
const SendMessageAction = Type.Object(
  {
    action: Type.Literal('send-message'),
    to: Type.String({ minLength: 1, description: 'An agent id, or a broadcast: kind:<kind> or tag:<tag>' }),
    content: Template,
    replyWithin: Type.Optional(Type.String({ minLength: 1, description: 'ISO-8601 duration: makes the message a request expecting a reply in time' })),
  },
  strict,
);
const EmitEventAction = Type.Object(
  { action: Type.Literal('emit-event'), eventType: Type.String({ minLength: 1, maxLength: 256 }), subject: Type.Optional(Type.String({ minLength: 1 })), data: Type.Optional(Type.Unknown()) },
  strict,
);
const CallWebhookAction = Type.Object(
  { action: Type.Literal('call-webhook'), url: Type.String({ minLength: 1, maxLength: 2048 }), method: Type.Optional(literals(WEBHOOK_METHODS)), body: Type.Optional(Type.Unknown()) },
  strict,
);
const RememberAction = Type.Object({ action: Type.Literal('remember'), key: Type.String({ minLength: 1, maxLength: 256 }), value: Type.Unknown() }, strict);
const DirectAction = Type.Union([ReplyAction, SendMessageAction, EmitEventAction, CallWebhookAction, RememberAction]);
const ProposeAction = Type.Object({ action: Type.Literal('propose'), proposed: DirectAction, reason: Type.Optional(Type.String({ maxLength: 2000 })) }, strict);
export const AgentActionSchema = Type.Union([ReplyAction, SendMessageAction, EmitEventAction, CallWebhookAction, RememberAction, ProposeAction], {
  $id: 'AgentAction',
});

const RulesEngine = Type.Object(
  {
    type: Type.Literal('rules'),
    rules: Type.Array(
      Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), when: Type.Optional(JsonLogic), then: Type.Array(AgentActionSchema, { minItems: 1, maxItems: 50 }) }, strict),
      { minItems: 1, maxItems: 500 },
    ),
  },
  strict,
);
const LlmEngine = Type.Object(
  {
    type: Type.Literal('llm'),
    provider: literals(LLM_PROVIDERS),
    model: Type.String({ minLength: 1, maxLength: 200 }),
    baseUrl: Type.Optional(Type.String({ format: 'uri' })),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
  },
  strict,
);
export const AgentEngineSchema = Type.Union([RulesEngine, LlmEngine]);

const Subscription = Type.Object({ type: Type.String({ minLength: 1, maxLength: 256 }), filter: Type.Optional(JsonLogic) }, strict);
const PositiveInt = Type.Integer({ minimum: 1 });
const Budgets = Type.Object(
  { maxHops: Type.Optional(PositiveInt), maxDecisionsPerChain: Type.Optional(PositiveInt), maxTokensPerChain: Type.Optional(PositiveInt), maxCostPerChain: Type.Optional(Type.Number({ exclusiveMinimum: 0 })) },
  strict,
);

const definitionFields = {
  name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,100}$' }),
  description: Type.String({ maxLength: 2000 }),
  kind: literals(AGENT_KINDS),
  instructions: Type.String({ maxLength: 100_000 }),
  subscriptions: Type.Array(Subscription, { maxItems: 100 }),
  engine: AgentEngineSchema,
  tools: Type.Array(literals(AGENT_TOOLS), { uniqueItems: true }),
  budgets: Budgets,
  mailboxPolicy: literals(AGENT_MAILBOX_POLICIES),
  tags: Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' }), { maxItems: 20, uniqueItems: true }),
  approvals: Type.Object(
    { timeout: Type.String({ minLength: 2, description: 'ISO-8601 duration' }), onTimeout: Type.Union([Type.Literal('approve'), Type.Literal('reject')]) },
    { ...strict, description: 'How proposals nobody decides on are settled' },
  ),
};

export const CreateAgentRequestSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$', description: 'Client-supplied id; a UUID is generated when absent' })),
    name: definitionFields.name,
    description: Type.Optional(definitionFields.description),
    kind: definitionFields.kind,
    instructions: Type.Optional(definitionFields.instructions),
    subscriptions: Type.Optional(definitionFields.subscriptions),
    engine: definitionFields.engine,
    tools: definitionFields.tools,
    budgets: Type.Optional(definitionFields.budgets),
    mailboxPolicy: Type.Optional(definitionFields.mailboxPolicy),
    tags: Type.Optional(definitionFields.tags),
    approvals: Type.Optional(definitionFields.approvals),
  },
  { ...strict, $id: 'CreateAgentRequest' },
);

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ReconfigureAgentRequestSchema = Type.Object(
  {
    name: Type.Optional(definitionFields.name),
    description: Type.Optional(Nullable(definitionFields.description)),
    kind: Type.Optional(definitionFields.kind),
    instructions: Type.Optional(Nullable(definitionFields.instructions)),
    subscriptions: Type.Optional(definitionFields.subscriptions),
    engine: Type.Optional(definitionFields.engine),
    tools: Type.Optional(definitionFields.tools),
    budgets: Type.Optional(
      Type.Object(
        {
          maxHops: Type.Optional(PositiveInt),
          maxDecisionsPerChain: Type.Optional(PositiveInt),
          maxTokensPerChain: Type.Optional(PositiveInt),
          maxCostPerChain: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0 }))),
        },
        strict,
      ),
    ),
    mailboxPolicy: Type.Optional(definitionFields.mailboxPolicy),
    tags: Type.Optional(Nullable(definitionFields.tags)),
    approvals: Type.Optional(Nullable(definitionFields.approvals)),
  },
  { ...strict, minProperties: 1, $id: 'ReconfigureAgentRequest' },
);

export const PostAgentMessageRequestSchema = Type.Object(
  { content: Type.String({ minLength: 1, maxLength: 10_000 }), from: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) },
  { ...strict, $id: 'PostAgentMessageRequest' },
);
