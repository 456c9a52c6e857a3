import {
  CLOUD_EVENT_METADATA_KEY,
  type AppendRequest,
  type CloudEventEnvelope,
  type EventStore,
  type MailboxInput,
  type RecordedEvent,
  type TriggerAction,
  type TriggerFired,
  type ValidationIssue,
} from '@meridian/domain';
import { ingestionStreamName, storedEventId } from '../ingestion/ingest-events.service';
import { compileTemplateValue } from '../reasoning/rules/action-templates';
import { cloudEventViewOf, type CloudEventView } from '../routing/cloud-event-view';

/**
 * What a firing does, worked out from its `trigger.fired` event (the action as defined, its
 * templates unrendered, and the matched events): inputs for agents' mailboxes, and events to store.
 * The router carries them out in the batch that routes the firing; every id is derived from the
 * firing, so doing it again after a restart stores nothing twice.
 *
 * - `wake-agent`: a `task` input for the trigger's agent, whose `context` holds the firing and the
 *   matched events (with their data, the newest `MAX_CONTEXT_EVENTS`).
 * - `send-message`: an agent message to `to`, from the trigger's agent (a reply goes back to it).
 * - `emit-event`: a domain event, stored like an ingested one (agents and triggers can react to it),
 *   from source `meridian://triggers/<triggerId>` with the firing id as its id.
 *
 * Templates (`task`, `to`, `content`, `eventType`, `subject`, strings in `data`) are rendered
 * against `{ trigger, firing, subject, event, events }`: `event` is the last matched event's
 * CloudEvent view (`event.data.orderId`), `events` all of them. A template that fails to render
 * leaves its text as written (the firing still acts), and the failure is reported.
 */

export const MAX_CONTEXT_EVENTS = 20;

export interface TriggerActionPlan {
  readonly inputs: readonly { readonly agentId: string; readonly input: MailboxInput }[];
  readonly appends: readonly AppendRequest[];
}

export interface FiringTemplateContext {
  readonly trigger: { readonly id: string; readonly agentId: string };
  readonly firing: { readonly id: string; readonly occurrenceKey: string; readonly firedAt: string; readonly late: boolean };
  readonly subject: string | null;
  readonly event: CloudEventView | null;
  readonly events: readonly CloudEventView[];
}

/** The matched events as stored (newest `MAX_CONTEXT_EVENTS`), read by position. */
async function matchedViews(store: EventStore, fired: TriggerFired['data']): Promise<CloudEventView[]> {
  const wanted = fired.matchedEvents.slice(-MAX_CONTEXT_EVENTS);
  const views: CloudEventView[] = [];
  for (const matched of wanted) {
    const [stored] = await store.readAll({ after: matched.position - 1, limit: 1 });
    const view = stored !== undefined && stored.eventId === matched.eventId ? cloudEventViewOf(stored) : undefined;
    if (view !== undefined) views.push(view);
  }
  return views;
}

function render(value: unknown, path: string, context: FiringTemplateContext, onError: (message: string) => void): unknown {
  const issues: ValidationIssue[] = [];
  const compiled = compileTemplateValue(value, path, issues);
  if (issues.length > 0) {
    onError(issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
    return value;
  }
  try {
    return compiled.render(context);
  } catch (error) {
    onError(`${path}: ${error instanceof Error ? error.message : String(error)}`);
    return value;
  }
}

const text = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

export async function planTriggerAction(
  store: EventStore,
  tenantId: string,
  firingEvent: RecordedEvent,
  onTemplateError: (message: string) => void = () => undefined,
): Promise<TriggerActionPlan> {
  const fired = firingEvent.data as TriggerFired['data'];
  const views = await matchedViews(store, fired);
  const context: FiringTemplateContext = {
    trigger: { id: fired.triggerId, agentId: fired.agentId },
    firing: { id: fired.firingId, occurrenceKey: fired.occurrenceKey, firedAt: fired.firedAt, late: fired.late === true },
    subject: fired.subject ?? null,
    event: views[views.length - 1] ?? null,
    events: views,
  };
  const action: TriggerAction = fired.action;
  const field = (value: unknown, name: string) => render(value, `action.${name}`, context, onTemplateError);
  switch (action.kind) {
    case 'wake-agent':
      return {
        inputs: [
          {
            agentId: fired.agentId,
            input: {
              kind: 'task',
              ref: fired.firingId,
              triggerId: fired.triggerId,
              task: text(field(action.task, 'task')),
              context: {
                firing: context.firing,
                subject: context.subject,
                matchedEvents: fired.matchedEvents,
                events: views,
              },
            },
          },
        ],
        appends: [],
      };
    case 'send-message': {
      const to = text(field(action.to, 'to'));
      return {
        inputs: [{ agentId: to, input: { kind: 'agent-message', ref: fired.firingId, from: fired.agentId, to, content: text(field(action.content, 'content')) } }],
        appends: [],
      };
    }
    case 'emit-event': {
      const source = `meridian://triggers/${fired.triggerId}`;
      const subject = action.subject === undefined ? undefined : text(field(action.subject, 'subject'));
      const envelope: CloudEventEnvelope = {
        id: fired.firingId,
        source,
        specversion: '1.0',
        subject: subject ?? null,
        time: fired.firedAt,
        datacontenttype: 'application/json',
        dataschema: null,
        extensions: {},
      };
      const metadata = {
        ...firingEvent.metadata,
        occurredAt: firingEvent.recordedAt,
        causationId: firingEvent.eventId,
        [CLOUD_EVENT_METADATA_KEY]: envelope,
      };
      return {
        inputs: [],
        appends: [
          {
            streamName: ingestionStreamName({ subject, source }, tenantId),
            events: [{ eventId: storedEventId(tenantId, source, fired.firingId), type: text(field(action.eventType, 'eventType')), data: action.data === undefined ? null : field(action.data, 'data'), metadata }],
            expected: 'any',
          },
        ],
      };
    }
  }
}
