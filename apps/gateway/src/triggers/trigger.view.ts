import { Type, type Static } from '@sinclair/typebox';
import type { TriggerState } from '@meridian/domain';

/** The trigger as its commands answer it (API.md "Triggers"). */
export const TriggerViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    agentId: Type.String({ description: 'The owning agent' }),
    condition: Type.Unknown({ description: 'As defined, with `per` filled in (subject when it was left out)' }),
    action: Type.Unknown(),
    cooldown: Type.Optional(Type.String({ description: 'ISO-8601 duration' })),
    enabled: Type.Boolean(),
    deleted: Type.Boolean({ description: 'A deleted trigger never fires again and refuses every change (410)' }),
    firingCount: Type.Integer(),
    lastFiredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    version: Type.Integer({ description: 'Definition version: 1 when defined, +1 per change' }),
    revision: Type.Integer({ description: 'Stream revision; the ETag of this trigger' }),
  },
  { $id: 'Trigger' },
);
export type TriggerView = Static<typeof TriggerViewSchema>;

export function triggerViewFromState(state: TriggerState, revision: number): TriggerView | null {
  if (state === null) return null;
  const { definition } = state;
  return {
    id: state.id,
    name: definition.name,
    agentId: state.agentId,
    condition: definition.condition,
    action: definition.action,
    ...(definition.cooldown !== undefined ? { cooldown: definition.cooldown } : {}),
    enabled: state.enabled,
    deleted: state.deleted,
    firingCount: state.firingCount,
    lastFiredAt: state.lastFiredAt,
    version: state.version,
    revision,
  };
}
