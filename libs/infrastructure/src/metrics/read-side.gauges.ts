import { Gauge, type Registry } from 'prom-client';
import type { EventStore } from '@meridian/domain';
import type { ProjectionStatus } from '../read-models';

export interface ProjectionStatusSource {
  status(): Promise<readonly Pick<ProjectionStatus, 'name' | 'checkpoint' | 'lag'>[]>;
}

/**
 * Gauges read when Prometheus scrapes, from the same source as GET /api/v1/admin/projections: each
 * projection's checkpoint and lag behind the head, and the store's head position. Nothing is kept
 * up to date in between, so a scrape always sees the tables as they are.
 */
export function registerReadSideGauges(registry: Registry, sources: { readonly store: EventStore; readonly projections: ProjectionStatusSource; readonly onError?: (error: unknown) => void }): void {
  const registers = [registry];
  // Lag and checkpoint come from one status read: both gauges are collected concurrently within a
  // scrape, so they share the read in flight rather than querying the tables twice.
  let inFlight: Promise<readonly Pick<ProjectionStatus, 'name' | 'checkpoint' | 'lag'>[]> | null = null;
  const readStatus = () => {
    inFlight ??= sources.projections.status().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };
  const collectProjections = (value: (status: Pick<ProjectionStatus, 'checkpoint' | 'lag'>) => number) =>
    async function collect(this: Gauge<'projection'>): Promise<void> {
      // Projections that no longer exist (or a failed read) must not keep reporting old values.
      this.reset();
      try {
        for (const status of await readStatus()) this.set({ projection: status.name }, value(status));
      } catch (error) {
        sources.onError?.(error);
      }
    };

  new Gauge({
    name: 'meridian_projection_lag_events',
    help: 'Events between the store head and the projection checkpoint (active version).',
    labelNames: ['projection'],
    registers,
    collect: collectProjections((status) => status.lag),
  });
  new Gauge({
    name: 'meridian_projection_checkpoint',
    help: 'Global position the projection (active version) has applied up to.',
    labelNames: ['projection'],
    registers,
    collect: collectProjections((status) => status.checkpoint),
  });
  new Gauge({
    name: 'meridian_event_store_head_position',
    help: 'Highest global position visible in the event store.',
    registers,
    async collect() {
      try {
        this.set(await sources.store.headPosition());
      } catch (error) {
        this.reset();
        sources.onError?.(error);
      }
    },
  });
}
