import {
  LLM_PROVIDERS,
  WEBHOOK_METHODS,
  typeMatches,
  validationFailed,
  type AgentAction,
  type AgentBudgets,
  type AgentDefinitionInput,
  type AgentRule,
  type AgentSubscription,
  type AgentTool,
  type JsonLogicExpression,
  type LlmProvider,
  type ValidationIssue,
  type WebhookMethod,
} from '@meridian/domain';

/**
 * Built-in agent kinds. Each preset is an ordinary agent definition on the same engines (rules, or
 * llm for the communicator): nothing about a kind is special-cased by the runtime, so a preset is
 * a starting point a team can read, copy and edit like any definition it writes itself.
 *
 * - analyst: pattern recognition over an entity's events (counts, value outliers) → `analysis.*` events.
 * - communicator: answers people (greetings, help, a fallback), or an llm given a provider and model.
 * - executor: on a subscribed event, calls a webhook with it and emits a confirmation event.
 * - monitor: reacts to the platform's own health events (`meridian.*`): notifies, calls out, counts.
 *
 * Conditions are JSON Logic over the DecisionContext and action strings are Handlebars templates
 * (see reasoning/rules). Two limits of those building blocks shape the presets:
 * - JSON Logic `var` splits paths on dots, so `entity.typeCounts` cannot be read by an event type
 *   such as `order.placed`; thresholds use the entity's `eventCount`, and the per-type count is
 *   reported through the template helper `lookup`, which takes the key whole.
 * - A template renders to a string, so counts and values inside emitted data are strings
 *   (`"5"`); literal numbers of the definition (the threshold) stay numbers.
 */

export const AGENT_PRESET_KINDS = ['analyst', 'communicator', 'executor', 'monitor'] as const;
export type AgentPresetKind = (typeof AGENT_PRESET_KINDS)[number];

/** Where the runtime reports platform health (see platform-health); the monitor listens to it. */
export const PLATFORM_EVENT_PREFIX = 'meridian.';

interface PresetCommonOptions {
  /** Agent name; each kind has a default. */
  readonly name?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly budgets?: Partial<AgentBudgets>;
}

export interface AnalystPresetOptions extends PresetCommonOptions {
  /** Event types to analyse: an exact type or a prefix ending in `*`. Default `*`. */
  readonly eventType?: string;
  /** The entity event count at which `<prefix>.burst` is emitted (once, when it is reached). Default 5. */
  readonly threshold?: number;
  /** A field of the event's data (dotted path, `total` or `amount.value`) watched for outliers. */
  readonly valueField?: string;
  /** With `valueField`: a value above this emits `<prefix>.outlier`. */
  readonly valueAbove?: number;
  /** Prefix of the emitted event types. Default `analysis`. */
  readonly emitPrefix?: string;
}

export interface CommunicatorLlmOptions {
  readonly provider: LlmProvider;
  readonly model: string;
  readonly baseUrl?: string;
  readonly temperature?: number;
}

export interface CommunicatorPresetOptions extends PresetCommonOptions {
  /** Words that make a message a greeting; matched at the start of a word (see `keywordCondition`). */
  readonly greetings?: readonly string[];
  /** Words that make a message a request for help. Default `help`. */
  readonly helpKeywords?: readonly string[];
  readonly greetingReply?: string;
  readonly helpReply?: string;
  /** Reply to any other message; `null` leaves other messages unanswered. */
  readonly fallbackReply?: string | null;
  /** Use an llm engine instead of rules: the model answers every message with the `reply` tool. */
  readonly llm?: CommunicatorLlmOptions;
  /** System prompt of the llm variant. */
  readonly instructions?: string;
}

export interface ExecutorPresetOptions extends PresetCommonOptions {
  /** The events to act on: an exact type or a prefix ending in `*`. */
  readonly eventType: string;
  /** JSON Logic over the CloudEvent (`{ "var": "data.amount" }`) narrowing the subscription. */
  readonly filter?: JsonLogicExpression;
  /** Called with the event; may be a template (`https://ops.example/orders/{{event.subject}}`). */
  readonly webhookUrl: string;
  /** Default POST. */
  readonly method?: WebhookMethod;
  /** Type of the confirmation event, emitted once the webhook call has been attempted. Default `execution.dispatched`. */
  readonly confirmationType?: string;
}

export interface MonitorPresetOptions extends PresetCommonOptions {
  /** Who is told: an agent id, `tag:<tag>` or `kind:<kind>`; `null` to tell no agent. Default `tag:oncall`. */
  readonly notify?: string | null;
  /** Also POSTs every platform event here (an incident tool, a chat webhook). */
  readonly webhookUrl?: string;
}

export interface AgentPresetOptions {
  readonly analyst: AnalystPresetOptions;
  readonly communicator: CommunicatorPresetOptions;
  readonly executor: ExecutorPresetOptions;
  readonly monitor: MonitorPresetOptions;
}

export type AgentPresetParameterType = 'string' | 'integer' | 'number' | 'string[]' | 'object';

export interface AgentPresetParameter {
  readonly name: string;
  readonly type: AgentPresetParameterType;
  readonly required: boolean;
  readonly default?: unknown;
  readonly description: string;
}

export interface AgentPresetDescriptor<K extends AgentPresetKind = AgentPresetKind> {
  readonly kind: K;
  readonly description: string;
  /** What the agent's inputs are. */
  readonly reactsTo: string;
  /** What it does with them. */
  readonly does: string;
  readonly parameters: readonly AgentPresetParameter[];
  /** Options that make a complete example (`agentPreset(kind, example)`). */
  readonly example: AgentPresetOptions[K];
}

const ANALYST_DEFAULTS = { name: 'analyst', eventType: '*', threshold: 5, emitPrefix: 'analysis' } as const;
const COMMUNICATOR_DEFAULTS = {
  name: 'communicator',
  greetings: ['hello', 'hey', 'hi ', 'hi!', 'hi,', 'good morning', 'good afternoon', 'good evening'],
  helpKeywords: ['help'],
  greetingReply: 'Hello! I am {{agent.name}}. Say "help" to see what I can do.',
  helpReply: 'I answer questions about your account and pass anything I cannot handle to a person. Describe what you need in a sentence.',
  fallbackReply: 'Sorry, I did not understand that. Say "help" to see what I can do.',
  instructions:
    'You are a helpful assistant talking to the users of this platform. Answer with the reply tool, briefly and politely. If you cannot help, say so and suggest asking for help.',
} as const;
const EXECUTOR_DEFAULTS = { name: 'executor', method: 'POST', confirmationType: 'execution.dispatched' } as const;
const MONITOR_DEFAULTS = { name: 'platform-monitor', notify: 'tag:oncall' } as const;

const COMMON_PARAMETERS: readonly AgentPresetParameter[] = [
  { name: 'description', type: 'string', required: false, description: 'Agent description' },
  { name: 'tags', type: 'string[]', required: false, description: 'Tags other agents broadcast to (send-message to tag:<tag>)' },
  { name: 'budgets', type: 'object', required: false, description: 'Chain budgets (maxHops, maxDecisionsPerChain, maxTokensPerChain, maxCostPerChain)' },
];

export const AGENT_PRESETS: { readonly [K in AgentPresetKind]: AgentPresetDescriptor<K> } = {
  analyst: {
    kind: 'analyst',
    description: 'Pattern recognition over the events of each entity: bursts (event counts reaching a threshold) and value outliers.',
    reactsTo: 'Ingested events of `eventType`, each seen with its entity (the folded state of its subject: eventCount, typeCounts, firstSeen, lastSeen).',
    does:
      'Emits `<emitPrefix>.burst` when an entity reaches `threshold` events and `<emitPrefix>.outlier` when `data.<valueField>` is above `valueAbove`, both with the subject of the event, and remembers the last anomaly (memory key `lastAnomaly`).',
    parameters: [
      { name: 'name', type: 'string', required: false, default: ANALYST_DEFAULTS.name, description: 'Agent name' },
      { name: 'eventType', type: 'string', required: false, default: ANALYST_DEFAULTS.eventType, description: 'Event types to analyse: exact, or a prefix ending in *' },
      { name: 'threshold', type: 'integer', required: false, default: ANALYST_DEFAULTS.threshold, description: 'Entity event count at which a burst is reported (once per entity)' },
      { name: 'valueField', type: 'string', required: false, description: 'Dotted path in the event data watched for outliers (e.g. total)' },
      { name: 'valueAbove', type: 'number', required: false, description: 'With valueField: values above this are outliers' },
      { name: 'emitPrefix', type: 'string', required: false, default: ANALYST_DEFAULTS.emitPrefix, description: 'Prefix of the emitted event types' },
      ...COMMON_PARAMETERS,
    ],
    example: { name: 'order-analyst', eventType: 'order.*', threshold: 5, valueField: 'total', valueAbove: 1000 },
  },
  communicator: {
    kind: 'communicator',
    description: 'Answers people in conversations and direct messages: greetings, help, and a fallback — or a language model.',
    reactsTo: 'Messages from people (conversation messages and POST /agents/:id/messages); not events, not other agents.',
    does: 'Replies in the conversation. With `llm`, the model writes every reply (tool `reply` only).',
    parameters: [
      { name: 'name', type: 'string', required: false, default: COMMUNICATOR_DEFAULTS.name, description: 'Agent name' },
      { name: 'greetings', type: 'string[]', required: false, default: COMMUNICATOR_DEFAULTS.greetings, description: 'Greeting words, matched at the start of a word (a trailing space or punctuation makes a whole word)' },
      { name: 'helpKeywords', type: 'string[]', required: false, default: COMMUNICATOR_DEFAULTS.helpKeywords, description: 'Words asking for help' },
      { name: 'greetingReply', type: 'string', required: false, default: COMMUNICATOR_DEFAULTS.greetingReply, description: 'Template of the reply to a greeting' },
      { name: 'helpReply', type: 'string', required: false, default: COMMUNICATOR_DEFAULTS.helpReply, description: 'Template of the reply to a request for help' },
      { name: 'fallbackReply', type: 'string', required: false, default: COMMUNICATOR_DEFAULTS.fallbackReply, description: 'Template of the reply to anything else; null for none' },
      { name: 'llm', type: 'object', required: false, description: 'Use a model instead of rules: { provider, model, baseUrl?, temperature? }' },
      { name: 'instructions', type: 'string', required: false, default: COMMUNICATOR_DEFAULTS.instructions, description: 'System prompt of the llm variant' },
      ...COMMON_PARAMETERS,
    ],
    example: { name: 'support-desk' },
  },
  executor: {
    kind: 'executor',
    description: 'Carries out actions outside Meridian: calls a webhook for each subscribed event and records a confirmation.',
    reactsTo: 'Ingested events of `eventType` (narrowed by `filter`).',
    does:
      'Calls `webhookUrl` with the event (`Idempotency-Key: <decisionId>:<index>` on every attempt), then emits `confirmationType` with the same subject. The webhook outcome is in the decision ledger.',
    parameters: [
      { name: 'name', type: 'string', required: false, default: EXECUTOR_DEFAULTS.name, description: 'Agent name' },
      { name: 'eventType', type: 'string', required: true, description: 'Event types to act on: exact, or a prefix ending in *' },
      { name: 'filter', type: 'object', required: false, description: 'JSON Logic over the CloudEvent narrowing the subscription' },
      { name: 'webhookUrl', type: 'string', required: true, description: 'http(s) URL to call; may be a template' },
      { name: 'method', type: 'string', required: false, default: EXECUTOR_DEFAULTS.method, description: `One of ${WEBHOOK_METHODS.join(', ')}` },
      { name: 'confirmationType', type: 'string', required: false, default: EXECUTOR_DEFAULTS.confirmationType, description: 'Type of the confirmation event' },
      ...COMMON_PARAMETERS,
    ],
    example: {
      name: 'fulfilment',
      eventType: 'order.paid',
      filter: { '>=': [{ var: 'data.total' }, 100] },
      webhookUrl: 'https://fulfilment.example.com/hooks/orders',
      confirmationType: 'fulfilment.requested',
    },
  },
  monitor: {
    kind: 'monitor',
    description: "Watches the platform's own health: halted chains, failed decisions, lagging projections (and, reserved, dead letters).",
    reactsTo: 'Platform events `meridian.*` (source meridian://platform), reported by the runtime.',
    does: 'Tells `notify` (default the agents tagged oncall) what happened, optionally POSTs it to `webhookUrl`, and counts incidents per subject in memory (`incidents:<subject>`, `lastIncident`).',
    parameters: [
      { name: 'name', type: 'string', required: false, default: MONITOR_DEFAULTS.name, description: 'Agent name' },
      { name: 'notify', type: 'string', required: false, default: MONITOR_DEFAULTS.notify, description: 'Agent id, tag:<tag> or kind:<kind> to message; null for none' },
      { name: 'webhookUrl', type: 'string', required: false, description: 'http(s) URL that receives every platform event' },
      ...COMMON_PARAMETERS,
    ],
    example: { notify: 'tag:oncall' },
  },
};

/** Every preset with the definition its example options give. */
export function agentPresetCatalogue(): readonly (AgentPresetDescriptor & { readonly exampleDefinition: AgentDefinitionInput })[] {
  return AGENT_PRESET_KINDS.map((kind) => ({ ...AGENT_PRESETS[kind], exampleDefinition: agentPreset(kind, AGENT_PRESETS[kind].example) }));
}

/**
 * The definition of a built-in kind with `options`. Throws VALIDATION_FAILED (paths under
 * `options.`) for options that cannot make a working agent; the result is an ordinary
 * `AgentDefinitionInput`, validated like any other when the agent is created.
 */
export function agentPreset<K extends AgentPresetKind>(kind: K, options: AgentPresetOptions[K]): AgentDefinitionInput;
export function agentPreset(kind: AgentPresetKind, options: AgentPresetOptions[AgentPresetKind]): AgentDefinitionInput {
  switch (kind) {
    case 'analyst':
      return analystPreset(options as AnalystPresetOptions);
    case 'communicator':
      return communicatorPreset(options as CommunicatorPresetOptions);
    case 'executor':
      return executorPreset(options as ExecutorPresetOptions);
    case 'monitor':
      return monitorPreset(options as MonitorPresetOptions);
    default: {
      const unknownKind: never = kind;
      throw validationFailed([{ path: 'kind', message: `must be one of ${AGENT_PRESET_KINDS.join(', ')}, not ${String(unknownKind)}` }]);
    }
  }
}

/* Building blocks. */

const v = (path: string) => ({ var: path });
const inputKindIs = (kind: string): JsonLogicExpression => ({ '==': [v('input.kind'), kind] });
const eventTypeIs = (type: string): JsonLogicExpression => ({ '==': [v('event.type'), type] });

/** `type` starts with `prefix`, over the CloudEvent view (subscription filters see `{ type, data, … }`). */
const typeStartsWith = (path: string, prefix: string): JsonLogicExpression => ({ '==': [{ substr: [v(path), 0, prefix.length] }, prefix] });

/** Whether some type starting with `prefix` matches the subscription pattern (exact, or ending in `*`). */
function patternReachesPrefix(pattern: string, prefix: string): boolean {
  return pattern.endsWith('*') ? prefix.startsWith(pattern.slice(0, -1)) || pattern.slice(0, -1).startsWith(prefix) : pattern.startsWith(prefix);
}

function andAll(conditions: readonly JsonLogicExpression[]): JsonLogicExpression {
  return conditions.length === 1 ? conditions[0] : { and: [...conditions] };
}

/**
 * A message contains a keyword at the start of a word: the content, padded with a space on both
 * sides, contains `" " + keyword`. So `help` matches "Help me" and "I need help!" but not "unhelpful";
 * a keyword ending in a space or punctuation (`"hi "`, `"hi!"`) only matches that whole word.
 * JSON Logic has no case folding: each keyword is tried lower case, Capitalised and UPPER CASE.
 */
export function keywordCondition(keywords: readonly string[]): JsonLogicExpression {
  const padded = { cat: [' ', v('message.content'), ' '] };
  const variants = [...new Set(keywords.flatMap((keyword) => [keyword.toLowerCase(), keyword.charAt(0).toUpperCase() + keyword.slice(1).toLowerCase(), keyword.toUpperCase()]))];
  const tests = variants.map((variant) => ({ in: [` ${variant}`, padded] }));
  return tests.length === 1 ? tests[0] : { or: tests };
}

function common(options: PresetCommonOptions, fallbackName: string): Pick<AgentDefinitionInput, 'name' | 'description' | 'tags' | 'budgets'> {
  return {
    name: options.name ?? fallbackName,
    ...(options.description !== undefined && { description: options.description }),
    ...(options.tags !== undefined && options.tags.length > 0 && { tags: [...options.tags] }),
    ...(options.budgets !== undefined && { budgets: { ...options.budgets } }),
  };
}

const SUBSCRIPTION_PATTERN = /^[^*\s]+\*?$|^\*$/;
const EVENT_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const FIELD_PATH_PATTERN = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

function checkPattern(value: unknown, path: string, issues: ValidationIssue[]): void {
  if (typeof value !== 'string' || !SUBSCRIPTION_PATTERN.test(value)) issues.push({ path, message: 'must be an event type, or a prefix ending in * (order.*)' });
}

function checkEventType(value: unknown, path: string, issues: ValidationIssue[]): void {
  if (typeof value !== 'string' || !EVENT_TYPE_PATTERN.test(value)) issues.push({ path, message: 'must be an event type: letters, digits, . _ : -' });
}

function checkKeywords(value: unknown, path: string, issues: ValidationIssue[]): void {
  if (!Array.isArray(value) || value.length === 0 || value.some((word) => typeof word !== 'string' || word.trim() === '')) {
    issues.push({ path, message: 'must be a non-empty list of non-blank words' });
  }
}

function throwIfAny(issues: readonly ValidationIssue[]): void {
  if (issues.length > 0) throw validationFailed(issues);
}

/* Analyst. */

function analystPreset(options: AnalystPresetOptions): AgentDefinitionInput {
  const eventType = options.eventType ?? ANALYST_DEFAULTS.eventType;
  const threshold = options.threshold ?? ANALYST_DEFAULTS.threshold;
  const prefix = options.emitPrefix ?? ANALYST_DEFAULTS.emitPrefix;
  const issues: ValidationIssue[] = [];
  checkPattern(eventType, 'options.eventType', issues);
  if (!Number.isSafeInteger(threshold) || threshold < 1) issues.push({ path: 'options.threshold', message: 'must be a positive integer' });
  checkEventType(prefix, 'options.emitPrefix', issues);
  if (options.valueField !== undefined) {
    if (!FIELD_PATH_PATTERN.test(options.valueField) || options.valueField.split('.').some((segment) => FORBIDDEN_SEGMENTS.has(segment))) {
      issues.push({ path: 'options.valueField', message: 'must be a dotted path of data fields (total, amount.value)' });
    }
    if (typeof options.valueAbove !== 'number' || !Number.isFinite(options.valueAbove)) issues.push({ path: 'options.valueAbove', message: 'is required with valueField and must be a number' });
  } else if (options.valueAbove !== undefined) {
    issues.push({ path: 'options.valueField', message: 'is required with valueAbove' });
  }
  const emitted = `${prefix}.`;
  // Analysing its own output would count it: the analyst never listens to what it emits.
  if (eventType.replace(/\*$/, '').startsWith(emitted)) issues.push({ path: 'options.eventType', message: `must not select the analyst's own ${emitted}* events` });
  throwIfAny(issues);

  const subscription: AgentSubscription = patternReachesPrefix(eventType, emitted)
    ? { type: eventType, filter: { '!': typeStartsWith('type', emitted) } }
    : { type: eventType };
  const anomaly = (kind: string, extra: Record<string, unknown>): AgentAction => ({
    action: 'remember',
    key: 'lastAnomaly',
    value: { kind, subject: '{{event.subject}}', eventType: '{{event.type}}', eventId: '{{event.id}}', at: '{{event.time}}', ...extra },
  });
  const rules: AgentRule[] = [
    {
      name: 'burst',
      // The entity is seen as it was right after this event, so the count reaches the threshold on
      // exactly one event per entity: `==` reports the crossing once, never again for that entity.
      when: andAll([inputKindIs('event'), { '==': [v('entity.eventCount'), threshold] }]),
      then: [
        {
          action: 'emit-event',
          eventType: `${prefix}.burst`,
          subject: '{{event.subject}}',
          data: {
            subject: '{{event.subject}}',
            eventType: '{{event.type}}',
            threshold,
            count: '{{entity.eventCount}}',
            typeCount: '{{lookup entity.typeCounts event.type}}',
            firstSeen: '{{entity.firstSeen}}',
            lastSeen: '{{entity.lastSeen}}',
            triggeredBy: '{{event.id}}',
          },
        },
        anomaly('burst', { count: '{{entity.eventCount}}', threshold }),
      ],
    },
  ];
  if (options.valueField !== undefined && options.valueAbove !== undefined) {
    const path = `event.data.${options.valueField}`;
    rules.push({
      name: 'outlier',
      when: andAll([inputKindIs('event'), { '>': [v(path), options.valueAbove] }]),
      then: [
        {
          action: 'emit-event',
          eventType: `${prefix}.outlier`,
          subject: '{{event.subject}}',
          data: { subject: '{{event.subject}}', eventType: '{{event.type}}', field: options.valueField, value: `{{${path}}}`, above: options.valueAbove, triggeredBy: '{{event.id}}' },
        },
        anomaly('outlier', { field: options.valueField, value: `{{${path}}}`, above: options.valueAbove }),
      ],
    });
  }
  return {
    ...common(options, ANALYST_DEFAULTS.name),
    kind: 'analyst',
    subscriptions: [subscription],
    engine: { type: 'rules', rules },
    tools: ['emit-event', 'remember'],
  };
}

/* Communicator. */

function communicatorPreset(options: CommunicatorPresetOptions): AgentDefinitionInput {
  const issues: ValidationIssue[] = [];
  if (options.llm !== undefined) {
    const llm: unknown = options.llm;
    const given = typeof llm === 'object' && llm !== null ? (llm as Record<string, unknown>) : {};
    if (!(LLM_PROVIDERS as readonly unknown[]).includes(given.provider)) issues.push({ path: 'options.llm.provider', message: `must be one of ${LLM_PROVIDERS.join(', ')}` });
    if (typeof given.model !== 'string' || given.model.trim() === '') issues.push({ path: 'options.llm.model', message: 'is required' });
    throwIfAny(issues);
    const { provider, model, baseUrl, temperature } = options.llm;
    return {
      ...common(options, COMMUNICATOR_DEFAULTS.name),
      kind: 'communicator',
      instructions: options.instructions ?? COMMUNICATOR_DEFAULTS.instructions,
      engine: { type: 'llm', provider, model, ...(baseUrl !== undefined && { baseUrl }), ...(temperature !== undefined && { temperature }) },
      tools: ['reply'],
    };
  }
  const greetings = options.greetings ?? COMMUNICATOR_DEFAULTS.greetings;
  const helpKeywords = options.helpKeywords ?? COMMUNICATOR_DEFAULTS.helpKeywords;
  checkKeywords(greetings, 'options.greetings', issues);
  checkKeywords(helpKeywords, 'options.helpKeywords', issues);
  throwIfAny(issues);
  const fallbackReply = options.fallbackReply === undefined ? COMMUNICATOR_DEFAULTS.fallbackReply : options.fallbackReply;
  const greeting = keywordCondition(greetings);
  const help = keywordCondition(helpKeywords);
  // People only: answering other agents' messages would let two communicators talk forever.
  const fromPerson = inputKindIs('message');
  const rules: AgentRule[] = [
    { name: 'help', when: andAll([fromPerson, help]), then: [{ action: 'reply', text: options.helpReply ?? COMMUNICATOR_DEFAULTS.helpReply }] },
    { name: 'greeting', when: andAll([fromPerson, greeting, { '!': help }]), then: [{ action: 'reply', text: options.greetingReply ?? COMMUNICATOR_DEFAULTS.greetingReply }] },
  ];
  if (fallbackReply !== null) {
    rules.push({ name: 'fallback', when: andAll([fromPerson, { '!': greeting }, { '!': help }]), then: [{ action: 'reply', text: fallbackReply }] });
  }
  return {
    ...common(options, COMMUNICATOR_DEFAULTS.name),
    kind: 'communicator',
    engine: { type: 'rules', rules },
    tools: ['reply'],
  };
}

/* Executor. */

function executorPreset(options: ExecutorPresetOptions): AgentDefinitionInput {
  const issues: ValidationIssue[] = [];
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) throw validationFailed([{ path: 'options', message: 'must be an object with eventType and webhookUrl' }]);
  checkPattern(options.eventType, 'options.eventType', issues);
  if (typeof options.webhookUrl !== 'string' || !(options.webhookUrl.includes('{{') || /^https?:\/\/\S+$/.test(options.webhookUrl))) {
    issues.push({ path: 'options.webhookUrl', message: 'is required and must be an http(s) URL' });
  }
  if (options.method !== undefined && !(WEBHOOK_METHODS as readonly string[]).includes(options.method)) issues.push({ path: 'options.method', message: `must be one of ${WEBHOOK_METHODS.join(', ')}` });
  const confirmationType = options.confirmationType ?? EXECUTOR_DEFAULTS.confirmationType;
  checkEventType(confirmationType, 'options.confirmationType', issues);
  if (options.filter !== undefined && (typeof options.filter !== 'object' || options.filter === null || Array.isArray(options.filter))) {
    issues.push({ path: 'options.filter', message: 'must be a JSON Logic object' });
  }
  throwIfAny(issues);
  if (!options.eventType.endsWith('*') && typeMatches(options.eventType, confirmationType)) {
    throw validationFailed([{ path: 'options.confirmationType', message: 'must differ from eventType: the executor would act on its own confirmations' }]);
  }
  // Its own confirmations never come back to it (a `*` subscription would otherwise loop until the chain budget halts it).
  const conditions: JsonLogicExpression[] = [];
  if (options.filter !== undefined) conditions.push(options.filter);
  if (typeMatches(options.eventType, confirmationType)) conditions.push({ '!=': [v('type'), confirmationType] });
  const subscription: AgentSubscription = conditions.length === 0 ? { type: options.eventType } : { type: options.eventType, filter: andAll(conditions) };
  const method = options.method ?? EXECUTOR_DEFAULTS.method;
  return {
    ...common(options, EXECUTOR_DEFAULTS.name),
    kind: 'executor',
    subscriptions: [subscription],
    engine: {
      type: 'rules',
      rules: [
        {
          name: 'execute',
          when: inputKindIs('event'),
          then: [
            {
              action: 'call-webhook',
              url: options.webhookUrl,
              method,
              body: {
                id: '{{event.id}}',
                source: '{{event.source}}',
                type: '{{event.type}}',
                subject: '{{event.subject}}',
                time: '{{event.time}}',
                // Templates render text: the event's data travels as its JSON text.
                data: '{{json event.data}}',
              },
            },
            {
              action: 'emit-event',
              eventType: confirmationType,
              subject: '{{event.subject}}',
              data: { eventId: '{{event.id}}', eventType: '{{event.type}}', webhook: options.webhookUrl, method },
            },
          ],
        },
      ],
    },
    tools: ['call-webhook', 'emit-event'],
  };
}

/* Monitor. */

function monitorPreset(options: MonitorPresetOptions): AgentDefinitionInput {
  const issues: ValidationIssue[] = [];
  const notify = options.notify === undefined ? MONITOR_DEFAULTS.notify : options.notify;
  if (notify !== null && (typeof notify !== 'string' || notify.trim() === '')) issues.push({ path: 'options.notify', message: 'must be an agent id, tag:<tag> or kind:<kind>, or null' });
  if (notify === 'kind:monitor') issues.push({ path: 'options.notify', message: 'must not be kind:monitor: monitors would notify each other' });
  if (options.webhookUrl !== undefined && !/^https?:\/\/\S+$/.test(options.webhookUrl)) issues.push({ path: 'options.webhookUrl', message: 'must be an http(s) URL' });
  throwIfAny(issues);

  const tools: AgentTool[] = ['remember'];
  const rules: AgentRule[] = [];
  if (notify !== null) {
    tools.unshift('send-message');
    const tell = (type: string, name: string, content: string): AgentRule => ({ name, when: andAll([inputKindIs('event'), eventTypeIs(type)]), then: [{ action: 'send-message', to: notify, content }] });
    rules.push(
      tell(
        'meridian.chain.halted',
        'chain-halted',
        'Chain {{event.data.correlationId}} halted: {{event.data.reason}} (limit {{event.data.limit}}, would be {{event.data.used}}) at agent {{event.data.agentId}}.',
      ),
      tell(
        'meridian.decision.failed',
        'decision-failed',
        'Agent {{event.data.agentId}} failed a decision ({{event.data.error.code}}): {{event.data.error.message}} [decision {{event.data.decisionId}}, chain {{event.data.correlationId}}]',
      ),
      tell('meridian.projection.lagging', 'projection-lagging', 'Projection {{event.data.projection}} is {{event.data.lag}} events behind (threshold {{event.data.threshold}}).'),
      tell('meridian.dead-letter', 'dead-letter', 'Dead letter: {{json event.data}}'),
    );
  }
  if (options.webhookUrl !== undefined) {
    tools.push('call-webhook');
    rules.push({
      name: 'forward',
      when: andAll([inputKindIs('event'), typeStartsWith('event.type', PLATFORM_EVENT_PREFIX)]),
      then: [{ action: 'call-webhook', url: options.webhookUrl, method: 'POST', body: { id: '{{event.id}}', type: '{{event.type}}', subject: '{{event.subject}}', time: '{{event.time}}', data: '{{json event.data}}' } }],
    });
  }
  rules.push({
    name: 'count',
    when: andAll([inputKindIs('event'), typeStartsWith('event.type', PLATFORM_EVENT_PREFIX)]),
    then: [
      // The subject's entity holds every platform event about it: its eventCount is the incident count.
      { action: 'remember', key: 'incidents:{{event.subject}}', value: { count: '{{entity.eventCount}}', lastType: '{{event.type}}', lastAt: '{{event.time}}' } },
      { action: 'remember', key: 'lastIncident', value: { type: '{{event.type}}', subject: '{{event.subject}}', at: '{{event.time}}', eventId: '{{event.id}}' } },
    ],
  });
  return {
    ...common(options, MONITOR_DEFAULTS.name),
    kind: 'monitor',
    subscriptions: [{ type: `${PLATFORM_EVENT_PREFIX}*` }],
    engine: { type: 'rules', rules },
    tools,
  };
}
