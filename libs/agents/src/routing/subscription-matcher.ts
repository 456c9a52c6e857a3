import type { AgentSubscription, RecordedEvent } from '@meridian/domain';
import { cloudEventViewOf, type CloudEventView } from './cloud-event-view';
import { compileJsonLogicCondition, type CompiledCondition } from './json-logic-condition';

/**
 * Subscription matching: does an agent get an ingested event?
 *
 * A subscription's `type` is an exact event type, a prefix ending in `*` (`order.*` matches
 * `order.placed` but not `order`; `ord*` matches `order.placed`), or `*` alone (every type). Its
 * optional `filter` is a JSON Logic condition over the event's CloudEvent view
 * `{ type, subject, source, id, time, data, extensions }` (see `CloudEventView`). An agent gets the
 * event when at least one of its subscriptions matches both ways.
 *
 * A filter that cannot be compiled, throws, or returns something other than a boolean does not
 * match; it is reported through `onError` and never interrupts routing. Only events that carry a
 * CloudEvent envelope (ingested domain events) are routed.
 */

export type TypePattern =
  | { readonly kind: 'exact'; readonly type: string }
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'invalid' };

/** The same rule as the definition validation: no whitespace, at most one `*`, and only at the end. */
const TYPE_PATTERN = /^[^*\s]*\*?$/;

export function parseTypePattern(type: string): TypePattern {
  if (type === '' || !TYPE_PATTERN.test(type)) return { kind: 'invalid' };
  return type.endsWith('*') ? { kind: 'prefix', prefix: type.slice(0, -1) } : { kind: 'exact', type };
}

export interface SubscriptionFilterError {
  /** Empty when the matcher was compiled without an agent id. */
  readonly agentId: string;
  readonly subscriptionIndex: number;
  readonly subscriptionType: string;
  /** `compile`: reported once, the subscription never matches. `evaluate`: for this event only. */
  readonly phase: 'compile' | 'evaluate';
  readonly reason: 'invalid-type' | 'invalid-filter' | 'threw' | 'non-boolean';
  readonly message: string;
  /** The CloudEvent's `source` and `id`, for evaluation errors. */
  readonly event?: { readonly source: string; readonly id: string; readonly type: string };
}

export type SubscriptionErrorHandler = (error: SubscriptionFilterError) => void;

export interface SubscriptionMatcherOptions {
  readonly agentId?: string;
  readonly onError?: SubscriptionErrorHandler;
}

/** One compiled subscription; `filter` undefined means "every event of the type". */
interface CompiledSubscription {
  readonly agentId: string;
  readonly index: number;
  readonly type: string;
  readonly pattern: TypePattern;
  readonly filter: CompiledCondition | undefined;
}

function report(onError: SubscriptionErrorHandler | undefined, error: SubscriptionFilterError): void {
  if (onError === undefined) return;
  try {
    onError(error);
  } catch {
    // A failing error handler must not turn a bad filter into a routing crash.
  }
}

/** Compiles the usable subscriptions; unusable ones are reported once and left out. */
function compileAll(subscriptions: readonly AgentSubscription[], agentId: string, onError?: SubscriptionErrorHandler): CompiledSubscription[] {
  const compiled: CompiledSubscription[] = [];
  subscriptions.forEach((subscription, index) => {
    const base = { agentId, subscriptionIndex: index, subscriptionType: subscription.type, phase: 'compile' as const };
    const pattern = parseTypePattern(subscription.type);
    if (pattern.kind === 'invalid') {
      report(onError, { ...base, reason: 'invalid-type', message: 'type must be an event type, a prefix ending in *, or *' });
      return;
    }
    let filter: CompiledCondition | undefined;
    if (subscription.filter !== undefined) {
      const compilation = compileJsonLogicCondition(subscription.filter, 'filter');
      if (!compilation.ok) {
        const message = compilation.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
        report(onError, { ...base, reason: 'invalid-filter', message });
        return;
      }
      filter = compilation.condition;
    }
    compiled.push({ agentId, index, type: subscription.type, pattern, filter });
  });
  return compiled;
}

function typeMatches(pattern: TypePattern, type: string): boolean {
  switch (pattern.kind) {
    case 'exact':
      return pattern.type === type;
    case 'prefix':
      return type.startsWith(pattern.prefix);
    case 'invalid':
      return false;
  }
}

function filterPasses(subscription: CompiledSubscription, view: CloudEventView, onError?: SubscriptionErrorHandler): boolean {
  if (subscription.filter === undefined) return true;
  const result = subscription.filter.evaluate(view);
  if (result.ok) return result.value;
  report(onError, {
    agentId: subscription.agentId,
    subscriptionIndex: subscription.index,
    subscriptionType: subscription.type,
    phase: 'evaluate',
    reason: result.reason,
    message: result.message,
    event: { source: view.source, id: view.id, type: view.type },
  });
  return false;
}

/** Accepts a stored event or an already-built view; undefined when the event has no envelope. */
function viewOf(event: RecordedEvent | CloudEventView): CloudEventView | undefined {
  return 'streamName' in event && 'metadata' in event ? cloudEventViewOf(event) : (event as CloudEventView);
}

/** One agent's subscriptions, compiled once. */
export interface SubscriptionMatcher {
  /** Whether the agent gets the event (a stored event, or its CloudEvent view). */
  matches(event: RecordedEvent | CloudEventView): boolean;
}

export function compileSubscriptions(
  subscriptions: readonly AgentSubscription[],
  options: SubscriptionMatcherOptions = {},
): SubscriptionMatcher {
  const compiled = compileAll(subscriptions, options.agentId ?? '', options.onError);
  return {
    matches(event) {
      const view = viewOf(event);
      if (view === undefined) return false;
      return compiled.some((subscription) => typeMatches(subscription.pattern, view.type) && filterPasses(subscription, view, options.onError));
    },
  };
}

export interface SubscriptionIndexOptions {
  readonly onError?: SubscriptionErrorHandler;
}

/**
 * Many agents' subscriptions, compiled once per definition, answering "which agents get this
 * event?" for every ingested event. Exact types are found with one Map lookup; prefix patterns are
 * grouped by prefix, and an event type is looked up once per distinct prefix length, so the cost
 * per event grows with the number of agents that actually match, not with the number of agents.
 *
 * Returned agent ids are sorted, so routing does not depend on the order agents were loaded in.
 */
export class SubscriptionIndex {
  private readonly agents = new Map<string, { readonly fingerprint: string; readonly subscriptions: readonly CompiledSubscription[] }>();
  private readonly exact = new Map<string, CompiledSubscription[]>();
  private readonly prefixed = new Map<string, CompiledSubscription[]>();
  /** Distinct prefix lengths present in `prefixed`, ascending (0 stands for `*`). */
  private prefixLengths: number[] = [];

  constructor(private readonly options: SubscriptionIndexOptions = {}) {}

  /** Number of agents held (including agents whose subscriptions are all unusable or empty). */
  get size(): number {
    return this.agents.size;
  }

  has(agentId: string): boolean {
    return this.agents.has(agentId);
  }

  /**
   * Sets (or replaces) an agent's subscriptions. Unchanged subscriptions are not recompiled, so it
   * is cheap to call on every definition change. An empty list keeps the agent with no events.
   */
  set(agentId: string, subscriptions: readonly AgentSubscription[]): void {
    const fingerprint = JSON.stringify(subscriptions);
    if (this.agents.get(agentId)?.fingerprint === fingerprint) return;
    this.remove(agentId);
    const compiled = compileAll(subscriptions, agentId, this.options.onError);
    this.agents.set(agentId, { fingerprint, subscriptions: compiled });
    for (const subscription of compiled) {
      const { pattern } = subscription;
      if (pattern.kind === 'exact') push(this.exact, pattern.type, subscription);
      else if (pattern.kind === 'prefix') push(this.prefixed, pattern.prefix, subscription);
    }
    this.refreshPrefixLengths();
  }

  /** Removes an agent (retired, paused); returns whether it was there. */
  remove(agentId: string): boolean {
    const entry = this.agents.get(agentId);
    if (entry === undefined) return false;
    this.agents.delete(agentId);
    for (const subscription of entry.subscriptions) {
      const { pattern } = subscription;
      if (pattern.kind === 'exact') pull(this.exact, pattern.type, agentId);
      else if (pattern.kind === 'prefix') pull(this.prefixed, pattern.prefix, agentId);
    }
    this.refreshPrefixLengths();
    return true;
  }

  /** Agent ids that get a stored event, sorted; none for an event without a CloudEvent envelope. */
  match(event: RecordedEvent): string[] {
    const view = cloudEventViewOf(event);
    return view === undefined ? [] : this.matchView(view);
  }

  /** Agent ids that get an event given as its CloudEvent view, sorted. */
  matchView(view: CloudEventView): string[] {
    const matched = new Set<string>();
    const consider = (candidates: readonly CompiledSubscription[] | undefined) => {
      if (candidates === undefined) return;
      for (const subscription of candidates) {
        if (!matched.has(subscription.agentId) && filterPasses(subscription, view, this.options.onError)) {
          matched.add(subscription.agentId);
        }
      }
    };
    consider(this.exact.get(view.type));
    for (const length of this.prefixLengths) {
      if (length > view.type.length) break;
      consider(this.prefixed.get(view.type.slice(0, length)));
    }
    return [...matched].sort();
  }

  private refreshPrefixLengths(): void {
    this.prefixLengths = [...new Set([...this.prefixed.keys()].map((prefix) => prefix.length))].sort((a, b) => a - b);
  }
}

function push(map: Map<string, CompiledSubscription[]>, key: string, subscription: CompiledSubscription): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [subscription]);
  else list.push(subscription);
}

function pull(map: Map<string, CompiledSubscription[]>, key: string, agentId: string): void {
  const list = map.get(key)?.filter((subscription) => subscription.agentId !== agentId);
  if (list === undefined || list.length === 0) map.delete(key);
  else map.set(key, list);
}
