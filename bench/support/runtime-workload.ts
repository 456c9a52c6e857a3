import { SubscriptionIndex, type CloudEventView } from '@meridian/agents';
import type { AgentSubscription } from '@meridian/domain';
import type { WireCloudEvent } from './ingest-workload';

/**
 * The runtime benchmark's workload: rules agents with overlapping subscriptions, and the order /
 * payment events they react to. Each agent's only rule emits `reaction.<index>` with the ingested
 * event's id in `data.of`, so a client watching the events can tell which ingested event every
 * reaction answers.
 */

export const EVENT_TYPES = ['order.placed', 'order.paid', 'order.shipped', 'payment.captured', 'payment.refunded'] as const;
const TYPE_PATTERNS = ['order.*', 'order.placed', 'payment.*', 'order.paid'] as const;
const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;
const SOURCE = 'https://shop.example.com/checkout';
/** Events spread over this many subjects (one stream each); reactions append to the same streams. */
const SUBJECTS = 20_000;
/** Amounts are 0..999; each subscription takes a window of this width. */
const AMOUNT_WINDOW = 130;

export interface BenchAgent {
  readonly index: number;
  /** The body of `POST /api/v1/agents`. */
  readonly definition: Record<string, unknown>;
  readonly subscriptions: readonly AgentSubscription[];
}

const amountWithin = (lo: number, hi: number) => ({ and: [{ '>=': [{ var: 'data.amount' }, lo] }, { '<': [{ var: 'data.amount' }, hi] }] });

/**
 * `count` agents. Agent i subscribes to one of four overlapping type patterns with an amount
 * window; every third one also requires a currency, and every tenth has a second subscription
 * (large refunds), so an event matches a handful of agents through different paths.
 */
export function benchAgents(count: number): BenchAgent[] {
  return Array.from({ length: count }, (_, index) => {
    const lo = (index * 379) % (1000 - AMOUNT_WINDOW);
    const window = amountWithin(lo, lo + AMOUNT_WINDOW);
    const filter = index % 3 === 0 ? { and: [window, { in: [{ var: 'data.currency' }, ['EUR', 'USD']] }] } : window;
    const subscriptions: AgentSubscription[] = [{ type: TYPE_PATTERNS[index % TYPE_PATTERNS.length], filter }];
    if (index % 10 === 0) subscriptions.push({ type: 'payment.refunded', filter: { '>': [{ var: 'data.amount' }, 900] } });
    return {
      index,
      subscriptions,
      definition: {
        name: `bench-reactor-${index}`,
        kind: 'monitor',
        subscriptions,
        engine: {
          type: 'rules',
          rules: [{ then: [{ action: 'emit-event', eventType: `reaction.${index}`, subject: '{{event.subject}}', data: { of: '{{event.id}}' } }] }],
        },
        tools: ['emit-event'],
      },
    };
  });
}

/** The `seq`-th event of a run; ids are `<runId>-<seq>`, so a reaction's `data.of` gives back `seq`. */
export function workloadEvent(runId: string, seq: number): WireCloudEvent {
  const orderId = `order-${seq % SUBJECTS}`;
  return {
    specversion: '1.0',
    id: `${runId}-${seq}`,
    source: SOURCE,
    type: EVENT_TYPES[seq % EVENT_TYPES.length],
    subject: orderId,
    data: {
      orderId,
      customerId: `cust-${seq % 5000}`,
      // A multiplicative hash spreads amounts evenly over 0..999 independently of the type.
      amount: (seq * 7919) % 1000,
      currency: CURRENCIES[Math.floor(seq / EVENT_TYPES.length) % CURRENCIES.length],
    },
  };
}

/**
 * How many agents react to an event, computed with the runtime's own subscription index (same
 * JSON Logic, same type patterns), so "all reactions arrived" is known exactly.
 */
export class FanOut {
  private readonly index = new SubscriptionIndex();

  constructor(agents: readonly BenchAgent[]) {
    for (const agent of agents) this.index.set(String(agent.index), agent.subscriptions);
  }

  expected(event: WireCloudEvent): number {
    const view: CloudEventView = { type: event.type, subject: event.subject, source: event.source, id: event.id, time: null, data: event.data, extensions: {} };
    return this.index.matchView(view).length;
  }
}
