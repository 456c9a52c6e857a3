import { Counter, type Registry } from 'prom-client';
import type { TriggerCounter, TriggerEngineObserver } from '@meridian/agents';

const HELP: Record<TriggerCounter, { readonly name: string; readonly help: string }> = {
  evaluations: { name: 'meridian_trigger_evaluations_total', help: 'Events evaluated against a trigger\'s condition.' },
  firings: { name: 'meridian_trigger_firings_total', help: 'Occurrences recorded as trigger.fired.' },
  suppressed: { name: 'meridian_trigger_suppressed_total', help: 'Occurrences not fired because the trigger was cooling down.' },
  lateEvents: { name: 'meridian_trigger_late_events_total', help: 'Events later than the allowed lateness: counted, not evaluated.' },
  lateFirings: { name: 'meridian_trigger_late_firings_total', help: 'Firings decided by a deadline the engine reached late (down or behind).' },
  refused: { name: 'meridian_trigger_refused_total', help: 'Occurrences refused: trigger disabled or deleted meanwhile, or its chain out of hops.' },
};

/**
 * The trigger engine's counters in Prometheus, per trigger (`tenant`, `trigger` labels): the
 * engine reports what it counted after each step. They start at zero with the process; the
 * lifetime totals are on the trigger (`GET /api/v1/triggers/:id`, `evaluation.stats`).
 */
export class TriggerMetrics implements TriggerEngineObserver {
  private readonly counters: Record<TriggerCounter, Counter<'tenant' | 'trigger'>>;

  constructor(registry: Registry) {
    const entries = (Object.keys(HELP) as TriggerCounter[]).map(
      (counter) => [counter, new Counter({ ...HELP[counter], labelNames: ['tenant', 'trigger'], registers: [registry] })] as const,
    );
    this.counters = Object.fromEntries(entries) as Record<TriggerCounter, Counter<'tenant' | 'trigger'>>;
  }

  counted(trigger: { readonly tenantId: string; readonly triggerId: string }, counter: TriggerCounter, amount: number): void {
    if (!Number.isFinite(amount) || amount <= 0) return;
    this.counters[counter].inc({ tenant: trigger.tenantId, trigger: trigger.triggerId }, amount);
  }
}
