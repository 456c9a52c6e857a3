import {
  AGENT_TOOLS,
  validateAgentAction,
  WEBHOOK_METHODS,
  type AgentAction,
  type AgentTool,
  type ValidationIssue,
} from '@meridian/domain';

/**
 * The action catalogue as model tools. A tool call IS an action: the engine never executes it, it
 * maps it to an `AgentAction` that the runtime records and executes later (at most once). Tool
 * names are the action names, so a recorded tool call reads the same as the action it became.
 *
 * The JSON schemas tell the model what to send; what it actually sent is checked by the domain's
 * own `validateAgentAction`, the same check rule actions go through.
 */

/** An OpenAI-style function tool, which LangChain chat models accept in `bindTools`. */
export interface LlmFunctionTool {
  readonly type: 'function';
  readonly function: {
    readonly name: AgentTool;
    readonly description: string;
    readonly parameters: JsonSchemaObject;
  };
}

interface JsonSchemaObject {
  readonly type: 'object';
  readonly properties: Readonly<Record<string, unknown>>;
  readonly required: readonly string[];
  readonly additionalProperties: false;
}

const text = (description: string) => ({ type: 'string', description });
const anyJson = (description: string) => ({ description: `${description} Any JSON value.` });

const DIRECT_PARAMETERS = {
  reply: {
    type: 'object',
    properties: { text: text('The reply shown to the person or agent the input came from.') },
    required: ['text'],
    additionalProperties: false,
  },
  'send-message': {
    type: 'object',
    properties: {
      to: text('The recipient agent id, or kind:<kind> / tag:<tag> to send to every active agent of that kind or with that tag.'),
      content: text('The message.'),
      replyWithin: text('Optional ISO-8601 duration (e.g. PT30S): makes the message a request; if no reply arrives in time you get a timeout input.'),
    },
    required: ['to', 'content'],
    additionalProperties: false,
  },
  'emit-event': {
    type: 'object',
    properties: {
      eventType: text('The event type, e.g. "order.flagged".'),
      subject: text('The entity the event is about.'),
      data: anyJson('The event payload.'),
    },
    required: ['eventType'],
    additionalProperties: false,
  },
  'call-webhook': {
    type: 'object',
    properties: {
      url: { type: 'string', description: 'An http(s) URL.' },
      method: { type: 'string', enum: [...WEBHOOK_METHODS], description: 'Defaults to POST.' },
      body: anyJson('The request body.'),
    },
    required: ['url'],
    additionalProperties: false,
  },
  remember: {
    type: 'object',
    properties: { key: text('The memory key.'), value: anyJson('The value to store under the key.') },
    required: ['key', 'value'],
    additionalProperties: false,
  },
} as const satisfies Record<Exclude<AgentTool, 'propose'>, JsonSchemaObject>;

const DIRECT_TOOLS = AGENT_TOOLS.filter((tool): tool is Exclude<AgentTool, 'propose'> => tool !== 'propose');

/** A proposal wraps any direct action: holding `propose` lets an agent ask for actions it does not hold. */
const PROPOSE_PARAMETERS: JsonSchemaObject = {
  type: 'object',
  properties: {
    proposed: {
      description: 'The action to propose: its name in "action" and its fields beside it.',
      anyOf: DIRECT_TOOLS.map((tool) => {
        const parameters = DIRECT_PARAMETERS[tool];
        return {
          ...parameters,
          properties: { action: { type: 'string', const: tool }, ...parameters.properties },
          required: ['action', ...parameters.required],
        };
      }),
    },
    reason: text('Why, for the person who approves or rejects it.'),
  },
  required: ['proposed'],
  additionalProperties: false,
};

const DESCRIPTIONS: Readonly<Record<AgentTool, string>> = {
  reply: 'Reply to the sender of the input.',
  'send-message': 'Send a message to another agent.',
  'emit-event': 'Emit a domain event.',
  'call-webhook': 'Call an HTTP webhook.',
  remember: 'Store a value in your memory under a key (replacing what was there).',
  propose: 'Propose an action for a person to approve or reject; it runs only once approved.',
};

/** The tools for an agent's allowed actions, in catalogue order, each at most once. */
export function actionTools(allowed: readonly AgentTool[]): LlmFunctionTool[] {
  return AGENT_TOOLS.filter((tool) => allowed.includes(tool)).map((tool) => ({
    type: 'function',
    function: { name: tool, description: DESCRIPTIONS[tool], parameters: tool === 'propose' ? PROPOSE_PARAMETERS : DIRECT_PARAMETERS[tool] },
  }));
}

export interface ActionToolCall {
  readonly id?: string;
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
}

export type ToolCallMapping = { readonly ok: true; readonly action: AgentAction } | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

const HTTP_URL = /^https?:\/\/[^\s{}]+$/;

/**
 * Maps a tool call to the action it stands for, or says why it cannot be one (an unknown or
 * disallowed tool, missing or mistyped fields). `path` prefixes issue paths (`toolCalls[0]`).
 *
 * Action strings decided by a model are literal: unlike rule actions they are not templates, so a
 * webhook URL must already be a plain http(s) URL here.
 */
export function toolCallToAction(call: ActionToolCall, allowed: readonly AgentTool[], path: string): ToolCallMapping {
  if (!(AGENT_TOOLS as readonly string[]).includes(call.name)) {
    return { ok: false, issues: [{ path: `${path}.name`, message: `"${call.name}" is not an action (${AGENT_TOOLS.join(', ')})` }] };
  }
  const issues: ValidationIssue[] = [];
  // The tool name decides the action, whatever the arguments say.
  const action = validateAgentAction({ ...call.args, action: call.name }, path, issues, allowed);
  const webhook = action?.action === 'call-webhook' ? action : action?.action === 'propose' && action.proposed.action === 'call-webhook' ? action.proposed : undefined;
  if (webhook !== undefined && !HTTP_URL.test(webhook.url)) issues.push({ path: `${path}.url`, message: 'must be a literal http(s) URL' });
  if (action === null || issues.length > 0) return { ok: false, issues };
  return { ok: true, action };
}
