import { assertNever, TRIGGER_EVENT_TYPES, TRIGGER_STREAM_CATEGORY, type RecordedEvent, type TriggerEvent } from '@meridian/domain';
import type { EntityManager } from 'typeorm';
import type { Projection } from '../engine/projection';
import { groupByTenant, readAggregateEvent, rowKey, type AggregateEvent } from '../shared/aggregate-events';
import { insertRows, loadRowsByColumn, upsertRows } from '../shared/row-writes';
import { TriggerFiringRecord, TriggerRecord } from './trigger-read-model.entities';

export const TRIGGERS_PROJECTION = 'triggers';

/** Projects trigger streams into `rm_triggers` and their firings into `rm_trigger_firings`. */
export class TriggersProjection implements Projection {
  readonly name = TRIGGERS_PROJECTION;
  readonly version = 2;
  readonly tables = [TriggerRecord, TriggerFiringRecord];
  readonly filter = { types: ['trigger.*'] };

  async apply(events: readonly RecordedEvent[], manager: EntityManager, targetVersion: number): Promise<void> {
    const batch: AggregateEvent<TriggerEvent>[] = [];
    for (const recorded of events) {
      const read = readAggregateEvent<TriggerEvent>(recorded, TRIGGER_STREAM_CATEGORY, TRIGGER_EVENT_TYPES);
      if (read) batch.push(read);
    }
    if (batch.length === 0) return;

    const triggers = new Map<string, TriggerRecord>();
    const changed = new Set<string>();
    const firings: TriggerFiringRecord[] = [];
    for (const [tenantId, items] of groupByTenant(batch)) {
      for (const row of await loadRowsByColumn(manager, TriggerRecord, targetVersion, tenantId, 'triggerId', items.map((item) => item.aggregateId))) {
        triggers.set(rowKey(row.tenantId, row.triggerId), row);
      }
    }

    for (const { event, recorded, tenantId, aggregateId, occurredAt } of batch) {
      const key = rowKey(tenantId, aggregateId);
      if (event.type === 'trigger.defined') {
        const { agentId, definition, enabled, version } = event.data;
        triggers.set(key, {
          projectionVersion: targetVersion,
          tenantId,
          triggerId: aggregateId,
          agentId,
          name: definition.name,
          definition: { ...definition },
          definitionVersion: version,
          enabled,
          deleted: false,
          firingCount: 0,
          lastFiredAt: null,
          revision: recorded.revision,
          createdAt: occurredAt,
          updatedAt: occurredAt,
          createdPosition: recorded.position,
          lastPosition: recorded.position,
        });
        changed.add(key);
        continue;
      }
      const trigger = triggers.get(key);
      // Nothing but a definition starts a trigger's history (as in the decider's evolve).
      if (!trigger) continue;
      trigger.revision = recorded.revision;
      trigger.lastPosition = recorded.position;
      changed.add(key);
      switch (event.type) {
        case 'trigger.changed':
          trigger.definition = { ...event.data.definition };
          trigger.name = event.data.definition.name;
          trigger.definitionVersion = event.data.version;
          trigger.updatedAt = occurredAt;
          break;
        case 'trigger.enabled':
          trigger.enabled = true;
          trigger.updatedAt = occurredAt;
          break;
        case 'trigger.disabled':
          trigger.enabled = false;
          trigger.updatedAt = occurredAt;
          break;
        case 'trigger.deleted':
          trigger.enabled = false;
          trigger.deleted = true;
          trigger.updatedAt = occurredAt;
          break;
        case 'trigger.fired': {
          const data = event.data;
          trigger.firingCount += 1;
          trigger.lastFiredAt = trigger.lastFiredAt === null || Date.parse(data.firedAt) > Date.parse(trigger.lastFiredAt) ? data.firedAt : trigger.lastFiredAt;
          firings.push({
            projectionVersion: targetVersion,
            tenantId,
            triggerId: aggregateId,
            firingId: data.firingId,
            agentId: data.agentId,
            occurrenceKey: data.occurrenceKey,
            matchedEvents: data.matchedEvents.map((matched) => ({ ...matched })),
            action: { ...data.action },
            definitionVersion: data.version,
            firedAt: data.firedAt,
            subject: data.subject ?? null,
            late: data.late === true,
            position: recorded.position,
          });
          break;
        }
        default:
          assertNever(event);
      }
    }

    await upsertRows(manager, TriggerRecord, [...changed].map((key) => triggers.get(key) as TriggerRecord));
    await insertRows(manager, TriggerFiringRecord, firings);
  }
}
