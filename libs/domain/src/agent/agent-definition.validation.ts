import { invalid } from '../shared/domain-error';
import { tryParseIsoDuration } from '../trigger/iso-duration';
import {
  AGENT_KINDS,
  AGENT_MAILBOX_POLICIES,
  AGENT_NAME_PATTERN,
  AGENT_TAG_PATTERN,
  MAX_AGENT_TAGS,
  AGENT_TOOLS,
  DEFAULT_AGENT_BUDGETS,
  DEFAULT_MAILBOX_POLICY,
  LLM_PROVIDERS,
  MAX_AGENT_DESCRIPTION_LENGTH,
  MAX_AGENT_INSTRUCTIONS_LENGTH,
  WEBHOOK_METHODS,
  toolForAction,
  type AgentAction,
  type AgentApprovalPolicy,
  type AgentBudgets,
  type AgentDefinition,
  type AgentDefinitionInput,
  type AgentDefinitionPatch,
  type AgentEngine,
  type AgentRule,
  type AgentSubscription,
  type AgentTool,
  type DirectAgentAction,
  type JsonLogicExpression,
} from './agent.definition';

/**
 * Validation of agent definitions and actions. Commands may come from any client (HTTP, Kafka,
 * a model's tool call), so the domain checks shapes as well as invariants and never trusts the
 * static types alone. Every problem is collected, so a client sees them all at once; the error's
 * `details.errors` holds `{ path, message }` pairs whose paths are relative to the definition.
 * The normalised result carries only known fields, with defaults filled in.
 */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

export function validationFailed(issues: readonly ValidationIssue[]) {
  const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  return invalid('VALIDATION_FAILED', summary, { errors: issues });
}

type Issues = ValidationIssue[];

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isOneOf = <T extends string>(values: readonly T[], value: unknown): value is T =>
  typeof value === 'string' && (values as readonly string[]).includes(value);
const isNonBlank = (value: unknown): value is string => typeof value === 'string' && value.trim().length > 0;
const join = (path: string, key: string | number) =>
  typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
const list = (values: readonly string[]) => values.join(', ');

/** An exact type, or a prefix ending in a single trailing `*`. */
const SUBSCRIPTION_TYPE_PATTERN = /^[^*\s]*\*?$/;
const HTTP_URL_PATTERN = /^https?:\/\/\S+$/;

function optionalString(value: unknown, path: string, max: number, issues: Issues): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    issues.push({ path, message: 'must be a string' });
    return undefined;
  }
  if (value.length > max) issues.push({ path, message: `must be at most ${max} characters` });
  return value;
}

function requiredText(value: unknown, path: string, issues: Issues): string {
  if (!isNonBlank(value)) {
    issues.push({ path, message: 'is required and must be a non-empty string' });
    return '';
  }
  return value;
}

/** An ISO-8601 duration; a template (`{{…}}`) is only known at execution and is checked then. */
function optionalDuration(value: unknown, path: string, issues: Issues): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    issues.push({ path, message: 'must be an ISO-8601 duration such as PT30S' });
    return undefined;
  }
  if (!value.includes('{{')) {
    const parsed = tryParseIsoDuration(value);
    if (!parsed.ok || parsed.milliseconds <= 0) issues.push({ path, message: 'must be a positive ISO-8601 duration such as PT30S' });
  }
  return value;
}

function validateTags(value: unknown, issues: Issues): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > MAX_AGENT_TAGS) {
    issues.push({ path: 'tags', message: `must be an array of at most ${MAX_AGENT_TAGS} tags` });
    return undefined;
  }
  value.forEach((tag: unknown, index) => {
    if (typeof tag !== 'string' || !AGENT_TAG_PATTERN.test(tag)) {
      issues.push({ path: `tags[${index}]`, message: 'must be 1–64 characters: letters, digits, _ . : -' });
    }
  });
  return [...new Set(value.filter((tag): tag is string => typeof tag === 'string'))];
}

function validateApprovalPolicy(value: unknown, issues: Issues): AgentApprovalPolicy | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    issues.push({ path: 'approvals', message: 'must be { timeout, onTimeout }' });
    return undefined;
  }
  const parsed = tryParseIsoDuration(value.timeout);
  if (!parsed.ok || parsed.milliseconds <= 0) issues.push({ path: 'approvals.timeout', message: 'must be a positive ISO-8601 duration such as PT1H' });
  if (value.onTimeout !== 'approve' && value.onTimeout !== 'reject') issues.push({ path: 'approvals.onTimeout', message: 'must be approve or reject' });
  return parsed.ok && (value.onTimeout === 'approve' || value.onTimeout === 'reject')
    ? { timeout: value.timeout as string, onTimeout: value.onTimeout }
    : undefined;
}

function jsonLogic(value: unknown, path: string, issues: Issues): JsonLogicExpression | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    issues.push({ path, message: 'must be a JSON Logic object' });
    return undefined;
  }
  return value;
}

function validateDirectAction(value: Record<string, unknown>, path: string, issues: Issues): DirectAgentAction | null {
  switch (value.action) {
    case 'reply':
      return { action: 'reply', text: requiredText(value.text, join(path, 'text'), issues) };
    case 'send-message': {
      const replyWithin = optionalDuration(value.replyWithin, join(path, 'replyWithin'), issues);
      return {
        action: 'send-message',
        to: requiredText(value.to, join(path, 'to'), issues),
        content: requiredText(value.content, join(path, 'content'), issues),
        ...(replyWithin !== undefined && { replyWithin }),
      };
    }
    case 'emit-event': {
      const subject = optionalString(value.subject, join(path, 'subject'), 1_000, issues);
      return {
        action: 'emit-event',
        eventType: requiredText(value.eventType, join(path, 'eventType'), issues),
        ...(subject !== undefined && { subject }),
        ...(value.data !== undefined && { data: value.data }),
      };
    }
    case 'call-webhook': {
      const url = requiredText(value.url, join(path, 'url'), issues);
      // A templated URL is only known at execution; a literal one must already be http(s).
      if (url !== '' && !url.includes('{{') && !HTTP_URL_PATTERN.test(url)) {
        issues.push({ path: join(path, 'url'), message: 'must be an http(s) URL' });
      }
      if (value.method !== undefined && !isOneOf(WEBHOOK_METHODS, value.method)) {
        issues.push({ path: join(path, 'method'), message: `must be one of ${list(WEBHOOK_METHODS)}` });
      }
      return {
        action: 'call-webhook',
        url,
        ...(isOneOf(WEBHOOK_METHODS, value.method) && { method: value.method }),
        ...(value.body !== undefined && { body: value.body }),
      };
    }
    case 'remember':
      if (value.value === undefined) issues.push({ path: join(path, 'value'), message: 'is required' });
      return { action: 'remember', key: requiredText(value.key, join(path, 'key'), issues), value: value.value };
    default:
      return null;
  }
}

/**
 * Validates one action (of a rule, or decided by an engine) and returns it normalised, or null
 * when it is not an action at all. `tools`, when given, is the set the action must stay within.
 */
export function validateAgentAction(value: unknown, path: string, issues: Issues, tools?: readonly AgentTool[]): AgentAction | null {
  if (!isRecord(value)) {
    issues.push({ path, message: 'must be an action object' });
    return null;
  }
  let action: AgentAction | null;
  if (value.action === 'propose') {
    const proposedPath = join(path, 'proposed');
    const proposed = isRecord(value.proposed) ? validateDirectAction(value.proposed, proposedPath, issues) : null;
    if (proposed === null) {
      issues.push({ path: proposedPath, message: `must be an action other than propose (${list(AGENT_TOOLS.filter((t) => t !== 'propose'))})` });
    }
    const reason = optionalString(value.reason, join(path, 'reason'), 2_000, issues);
    action = proposed === null ? null : { action: 'propose', proposed, ...(reason !== undefined && { reason }) };
  } else {
    action = validateDirectAction(value, path, issues);
    if (action === null) issues.push({ path: join(path, 'action'), message: `must be one of ${list(AGENT_TOOLS)}` });
  }
  if (action !== null && tools !== undefined && !tools.includes(toolForAction(action))) {
    issues.push({ path: join(path, 'action'), message: `"${action.action}" is not one of the agent's tools (${list(tools)})` });
  }
  return action;
}

function validateSubscriptions(value: unknown, issues: Issues): AgentSubscription[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.push({ path: 'subscriptions', message: 'must be an array' });
    return [];
  }
  return value.map((item: unknown, index): AgentSubscription => {
    const path = join('subscriptions', index);
    if (!isRecord(item)) {
      issues.push({ path, message: 'must be an object with a type' });
      return { type: '' };
    }
    const type = requiredText(item.type, join(path, 'type'), issues);
    if (type !== '' && !SUBSCRIPTION_TYPE_PATTERN.test(type)) {
      issues.push({ path: join(path, 'type'), message: 'must be an event type, or a prefix ending in a single trailing *' });
    }
    const filter = jsonLogic(item.filter, join(path, 'filter'), issues);
    return { type, ...(filter !== undefined && { filter }) };
  });
}

function validateTools(value: unknown, issues: Issues): AgentTool[] {
  if (!Array.isArray(value)) {
    issues.push({ path: 'tools', message: `must be an array of ${list(AGENT_TOOLS)}` });
    return [];
  }
  const tools: AgentTool[] = [];
  value.forEach((tool: unknown, index) => {
    if (!isOneOf(AGENT_TOOLS, tool)) {
      issues.push({ path: join('tools', index), message: `must be one of ${list(AGENT_TOOLS)}` });
    } else if (tools.includes(tool)) {
      issues.push({ path: join('tools', index), message: `"${tool}" is listed twice` });
    } else {
      tools.push(tool);
    }
  });
  return tools;
}

function validateRules(value: unknown, tools: readonly AgentTool[], issues: Issues): AgentRule[] {
  if (!Array.isArray(value) || value.length === 0) {
    issues.push({ path: 'engine.rules', message: 'a rules engine needs at least one rule' });
    return [];
  }
  return value.map((item: unknown, index): AgentRule => {
    const path = join('engine.rules', index);
    if (!isRecord(item)) {
      issues.push({ path, message: 'must be a rule object' });
      return { then: [] };
    }
    const name = optionalString(item.name, join(path, 'name'), 100, issues);
    const when = jsonLogic(item.when, join(path, 'when'), issues);
    const thenPath = join(path, 'then');
    if (!Array.isArray(item.then) || item.then.length === 0) {
      issues.push({ path: thenPath, message: 'a rule needs at least one action' });
    }
    const actions = Array.isArray(item.then) ? item.then : [];
    const then = actions
      .map((action: unknown, actionIndex) => validateAgentAction(action, join(thenPath, actionIndex), issues, tools))
      .filter((action): action is AgentAction => action !== null);
    return { ...(name !== undefined && { name }), ...(when !== undefined && { when }), then };
  });
}

function validateEngine(value: unknown, tools: readonly AgentTool[], issues: Issues): AgentEngine {
  if (!isRecord(value)) {
    issues.push({ path: 'engine', message: 'is required: { type: "rules", rules } or { type: "llm", provider, model }' });
    return { type: 'rules', rules: [] };
  }
  if (value.type === 'rules') return { type: 'rules', rules: validateRules(value.rules, tools, issues) };
  if (value.type === 'llm') {
    if (!isOneOf(LLM_PROVIDERS, value.provider)) {
      issues.push({ path: 'engine.provider', message: `must be one of ${list(LLM_PROVIDERS)}` });
    }
    const model = requiredText(value.model, 'engine.model', issues);
    const baseUrl = optionalString(value.baseUrl, 'engine.baseUrl', 2_000, issues);
    if (baseUrl !== undefined && !HTTP_URL_PATTERN.test(baseUrl)) {
      issues.push({ path: 'engine.baseUrl', message: 'must be an http(s) URL' });
    }
    const { temperature } = value;
    if (temperature !== undefined && !(typeof temperature === 'number' && temperature >= 0 && temperature <= 2)) {
      issues.push({ path: 'engine.temperature', message: 'must be a number from 0 to 2' });
    }
    return {
      type: 'llm',
      provider: isOneOf(LLM_PROVIDERS, value.provider) ? value.provider : 'fake',
      model,
      ...(baseUrl !== undefined && { baseUrl }),
      ...(typeof temperature === 'number' && { temperature }),
    };
  }
  issues.push({ path: 'engine.type', message: 'must be rules or llm' });
  return { type: 'rules', rules: [] };
}

function validateBudgets(value: unknown, issues: Issues): AgentBudgets {
  if (value !== undefined && !isRecord(value)) {
    issues.push({ path: 'budgets', message: 'must be an object' });
    return { ...DEFAULT_AGENT_BUDGETS };
  }
  const given = value ?? {};
  const positiveInteger = (key: 'maxHops' | 'maxDecisionsPerChain' | 'maxTokensPerChain'): number => {
    const limit = given[key];
    if (limit === undefined) return DEFAULT_AGENT_BUDGETS[key];
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
      issues.push({ path: `budgets.${key}`, message: 'must be a positive integer' });
      return DEFAULT_AGENT_BUDGETS[key];
    }
    return limit;
  };
  const budgets: AgentBudgets = {
    maxHops: positiveInteger('maxHops'),
    maxDecisionsPerChain: positiveInteger('maxDecisionsPerChain'),
    maxTokensPerChain: positiveInteger('maxTokensPerChain'),
  };
  const cost = given.maxCostPerChain;
  if (cost === undefined) return budgets;
  if (typeof cost !== 'number' || !Number.isFinite(cost) || cost <= 0) {
    issues.push({ path: 'budgets.maxCostPerChain', message: 'must be a positive amount in USD' });
    return budgets;
  }
  return { ...budgets, maxCostPerChain: cost };
}

/** Validates a definition as a whole and returns it with defaults filled in, or throws VALIDATION_FAILED. */
export function normalizeAgentDefinition(input: AgentDefinitionInput): AgentDefinition {
  const issues: Issues = [];
  const raw: unknown = input;
  if (!isRecord(raw)) throw validationFailed([{ path: 'definition', message: 'must be an object' }]);

  if (typeof raw.name !== 'string' || !AGENT_NAME_PATTERN.test(raw.name)) {
    issues.push({ path: 'name', message: 'must be 1–100 characters: letters, digits, - and _' });
  }
  const description = optionalString(raw.description, 'description', MAX_AGENT_DESCRIPTION_LENGTH, issues);
  if (!isOneOf(AGENT_KINDS, raw.kind)) issues.push({ path: 'kind', message: `must be one of ${list(AGENT_KINDS)}` });
  const instructions = optionalString(raw.instructions, 'instructions', MAX_AGENT_INSTRUCTIONS_LENGTH, issues);
  const subscriptions = validateSubscriptions(raw.subscriptions, issues);
  const tools = validateTools(raw.tools, issues);
  const engine = validateEngine(raw.engine, tools, issues);
  const budgets = validateBudgets(raw.budgets, issues);
  if (raw.mailboxPolicy !== undefined && !isOneOf(AGENT_MAILBOX_POLICIES, raw.mailboxPolicy)) {
    issues.push({ path: 'mailboxPolicy', message: `must be one of ${list(AGENT_MAILBOX_POLICIES)}` });
  }
  const tags = validateTags(raw.tags, issues);
  const approvals = validateApprovalPolicy(raw.approvals, issues);

  if (issues.length > 0) throw validationFailed(issues);
  return {
    name: raw.name as string,
    ...(description !== undefined && { description }),
    kind: raw.kind as AgentDefinition['kind'],
    ...(instructions !== undefined && { instructions }),
    subscriptions,
    engine,
    tools,
    budgets,
    mailboxPolicy: isOneOf(AGENT_MAILBOX_POLICIES, raw.mailboxPolicy) ? raw.mailboxPolicy : DEFAULT_MAILBOX_POLICY,
    ...(tags !== undefined && tags.length > 0 && { tags }),
    ...(approvals !== undefined && { approvals }),
  };
}

/** The definition a patch asks for (not yet validated): present fields replace, `null` clears. */
export function applyAgentDefinitionPatch(current: AgentDefinition, patch: AgentDefinitionPatch): AgentDefinitionInput {
  const raw: unknown = patch;
  if (!isRecord(raw)) throw validationFailed([{ path: 'changes', message: 'must be an object' }]);
  const optional = <K extends 'description' | 'instructions' | 'tags' | 'approvals'>(key: K) => {
    const value = patch[key];
    if (value === null) return {};
    const next = value === undefined ? current[key] : value;
    return next === undefined ? {} : { [key]: next };
  };
  let budgets: Partial<AgentBudgets> = current.budgets;
  if (patch.budgets !== undefined) {
    if (!isRecord(patch.budgets)) throw validationFailed([{ path: 'budgets', message: 'must be an object' }]);
    const { maxCostPerChain, ...limits } = patch.budgets;
    const merged = { ...current.budgets, ...limits };
    if (maxCostPerChain === null) {
      const { maxCostPerChain: _cleared, ...withoutCost } = merged;
      budgets = withoutCost;
    } else {
      budgets = maxCostPerChain === undefined ? merged : { ...merged, maxCostPerChain };
    }
  }
  return {
    name: patch.name ?? current.name,
    ...optional('description'),
    kind: patch.kind ?? current.kind,
    ...optional('instructions'),
    subscriptions: patch.subscriptions ?? current.subscriptions,
    engine: patch.engine ?? current.engine,
    tools: patch.tools ?? current.tools,
    budgets,
    mailboxPolicy: patch.mailboxPolicy ?? current.mailboxPolicy,
    ...optional('tags'),
    ...optional('approvals'),
  };
}
