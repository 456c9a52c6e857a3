import type { ChainBudgets } from '../chain/chain-budget';

/**
 * An agent's definition: what it listens to, how it decides, what it may do, and its limits.
 * Every change is a new definition version; each decision records the version it ran with.
 *
 * `AgentDefinitionInput` is what a client sends (budgets and mailbox policy may be omitted);
 * `AgentDefinition` is what the events carry, with every default filled in.
 */

export const AGENT_KINDS = ['analyst', 'communicator', 'executor', 'monitor', 'custom'] as const;
export type AgentKind = (typeof AGENT_KINDS)[number];

/** The action catalogue. An agent may only take the actions listed in its `tools`. */
export const AGENT_TOOLS = ['reply', 'send-message', 'emit-event', 'call-webhook', 'remember', 'propose'] as const;
export type AgentTool = (typeof AGENT_TOOLS)[number];

/** How a proposal that nobody decides on is settled once `timeout` (ISO-8601 duration) has passed. */
export interface AgentApprovalPolicy {
  readonly timeout: string;
  readonly onTimeout: 'approve' | 'reject';
}

export const DEFAULT_APPROVAL_POLICY: AgentApprovalPolicy = { timeout: 'PT24H', onTimeout: 'reject' };
export const MAX_AGENT_TAGS = 20;
export const AGENT_TAG_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export const AGENT_MAILBOX_POLICIES = ['queue', 'coalesce', 'interrupt'] as const;
export type AgentMailboxPolicy = (typeof AGENT_MAILBOX_POLICIES)[number];

export const LLM_PROVIDERS = ['openai-compatible', 'anthropic', 'ollama', 'fake'] as const;
export type LlmProvider = (typeof LLM_PROVIDERS)[number];

export const WEBHOOK_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type WebhookMethod = (typeof WEBHOOK_METHODS)[number];

/** A JSON Logic rule (https://jsonlogic.com), evaluated by the runtime; the domain only keeps it. */
export type JsonLogicExpression = Readonly<Record<string, unknown>>;

/** `type` is an exact event type, or a prefix ending in `*` (`order.*`; `*` alone matches every type). */
export interface AgentSubscription {
  readonly type: string;
  readonly filter?: JsonLogicExpression;
}

/*
 * Actions. String values are templates (`{{event.subject}}`) rendered by the runtime against the
 * decision's input; `data`, `body` and `value` are JSON whose strings are templates.
 */
export interface ReplyAction {
  readonly action: 'reply';
  readonly text: string;
}
export interface SendMessageAction {
  readonly action: 'send-message';
  /**
   * Recipient: an agent id, or a broadcast to every active agent of the tenant with a kind
   * (`kind:monitor`) or a tag (`tag:billing`); the sender never receives its own broadcast.
   */
  readonly to: string;
  readonly content: string;
  /**
   * Makes the message a request: an ISO-8601 duration (`PT30S`) within which a reply is expected.
   * If none arrives in time, the sender gets an `agent-message` input marked `timedOut`.
   */
  readonly replyWithin?: string;
}
export interface EmitEventAction {
  readonly action: 'emit-event';
  readonly eventType: string;
  readonly subject?: string;
  readonly data?: unknown;
}
export interface CallWebhookAction {
  readonly action: 'call-webhook';
  readonly url: string;
  /** Defaults to POST at execution. */
  readonly method?: WebhookMethod;
  readonly body?: unknown;
}
export interface RememberAction {
  readonly action: 'remember';
  readonly key: string;
  readonly value: unknown;
}

/** The actions that act directly; `propose` wraps one of them for a person's approval. */
export type DirectAgentAction = ReplyAction | SendMessageAction | EmitEventAction | CallWebhookAction | RememberAction;

/**
 * Proposes an action for approval. `action` is the discriminator, so the wrapped action travels
 * in `proposed`. Holding the `propose` tool is enough: an agent may propose actions whose tool it
 * does not hold, which is how a team lets an agent do something only with a person's consent.
 */
export interface ProposeAction {
  readonly action: 'propose';
  readonly proposed: DirectAgentAction;
  readonly reason?: string;
}

export type AgentAction = DirectAgentAction | ProposeAction;
export type AgentActionName = AgentAction['action'];

export interface AgentRule {
  readonly name?: string;
  /** JSON Logic over the decision input; absent means the rule always applies. */
  readonly when?: JsonLogicExpression;
  /** At least one action. */
  readonly then: readonly AgentAction[];
}

export interface RulesEngine {
  readonly type: 'rules';
  /** At least one rule. */
  readonly rules: readonly AgentRule[];
}

export interface LlmEngine {
  readonly type: 'llm';
  readonly provider: LlmProvider;
  readonly model: string;
  readonly baseUrl?: string;
  /** 0 to 2. */
  readonly temperature?: number;
}

export type AgentEngine = RulesEngine | LlmEngine;

/** Positive integers, except `maxCostPerChain` (USD, positive). */
export type AgentBudgets = ChainBudgets;

export interface AgentDefinition {
  /** 1–100 characters: letters, digits, `-` and `_`. */
  readonly name: string;
  readonly description?: string;
  readonly kind: AgentKind;
  /** System prompt for llm engines. */
  readonly instructions?: string;
  readonly subscriptions: readonly AgentSubscription[];
  readonly engine: AgentEngine;
  readonly tools: readonly AgentTool[];
  readonly budgets: AgentBudgets;
  readonly mailboxPolicy: AgentMailboxPolicy;
  /** Labels other agents broadcast to (`send-message` to `tag:<tag>`). */
  readonly tags?: readonly string[];
  /** How proposals time out; `DEFAULT_APPROVAL_POLICY` when absent. */
  readonly approvals?: AgentApprovalPolicy;
}

export interface AgentDefinitionInput {
  readonly name: string;
  readonly description?: string;
  readonly kind: AgentKind;
  readonly instructions?: string;
  /** Defaults to none: the agent then only gets messages and tasks. */
  readonly subscriptions?: readonly AgentSubscription[];
  readonly engine: AgentEngine;
  readonly tools: readonly AgentTool[];
  /** Omitted limits take `DEFAULT_AGENT_BUDGETS`. */
  readonly budgets?: Partial<AgentBudgets>;
  /** Defaults to `queue`. */
  readonly mailboxPolicy?: AgentMailboxPolicy;
  readonly tags?: readonly string[];
  readonly approvals?: AgentApprovalPolicy;
}

/**
 * A reconfiguration: fields present replace the current ones (`budgets` merges limit by limit);
 * `null` clears an optional field. The result is validated as a whole.
 */
export interface AgentDefinitionPatch {
  readonly name?: string;
  readonly description?: string | null;
  readonly kind?: AgentKind;
  readonly instructions?: string | null;
  readonly subscriptions?: readonly AgentSubscription[];
  readonly engine?: AgentEngine;
  readonly tools?: readonly AgentTool[];
  readonly budgets?: Partial<Omit<AgentBudgets, 'maxCostPerChain'>> & { readonly maxCostPerChain?: number | null };
  readonly mailboxPolicy?: AgentMailboxPolicy;
  readonly tags?: readonly string[] | null;
  readonly approvals?: AgentApprovalPolicy | null;
}

export const DEFAULT_AGENT_BUDGETS = { maxHops: 8, maxDecisionsPerChain: 20, maxTokensPerChain: 20_000 } as const;
export const DEFAULT_MAILBOX_POLICY: AgentMailboxPolicy = 'queue';

export const AGENT_NAME_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
export const MAX_AGENT_DESCRIPTION_LENGTH = 2_000;
export const MAX_AGENT_INSTRUCTIONS_LENGTH = 100_000;

/** The tool an action needs: its own name; a proposal needs only `propose`. */
export function toolForAction(action: AgentAction): AgentTool {
  return action.action;
}
