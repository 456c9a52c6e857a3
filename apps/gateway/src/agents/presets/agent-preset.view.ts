import { Type, type Static } from '@sinclair/typebox';
import { AGENT_PRESET_KINDS } from '@meridian/agents';

const PresetParameterSchema = Type.Object({
  name: Type.String(),
  type: Type.Union([Type.Literal('string'), Type.Literal('integer'), Type.Literal('number'), Type.Literal('string[]'), Type.Literal('object')]),
  required: Type.Boolean(),
  default: Type.Optional(Type.Unknown()),
  description: Type.String(),
});

/** A built-in agent kind: what it is for, its parameters, and a complete definition to POST /api/v1/agents. */
export const AgentPresetViewSchema = Type.Object({
  kind: Type.Union(AGENT_PRESET_KINDS.map((kind) => Type.Literal(kind))),
  description: Type.String(),
  reactsTo: Type.String({ description: 'What the agent gets as inputs' }),
  does: Type.String({ description: 'What it does with them' }),
  parameters: Type.Array(PresetParameterSchema),
  example: Type.Record(Type.String(), Type.Unknown(), { description: 'The parameters of the example' }),
  exampleDefinition: Type.Record(Type.String(), Type.Unknown(), { description: 'The definition those parameters give: a body for POST /api/v1/agents' }),
});
export type AgentPresetView = Static<typeof AgentPresetViewSchema>;

export const AgentPresetListSchema = Type.Object({
  items: Type.Array(AgentPresetViewSchema),
  nextCursor: Type.Null({ description: 'Always null: the catalogue is one page' }),
});
