import { Type, type Static } from '@sinclair/typebox';
import type { ChainView as ChainReadView } from '@meridian/infrastructure/read-models';

const ChainNodeSchema = Type.Object({
  position: Type.Integer({ description: 'Global position' }),
  eventId: Type.String(),
  causationId: Type.Union([Type.String(), Type.Null()], { description: 'The event that caused this one: the root, another node, or null' }),
  hop: Type.Integer({ minimum: 0 }),
  type: Type.String(),
  streamName: Type.String(),
  agentId: Type.Union([Type.String(), Type.Null()]),
  decisionId: Type.Union([Type.String(), Type.Null()]),
  occurredAt: Type.String({ format: 'date-time' }),
});

/** A chain's causation graph, what it used of its budgets and whether it was halted (API.md "Chains"). */
export const ChainViewSchema = Type.Object(
  {
    correlationId: Type.String(),
    root: Type.Union(
      [
        Type.Object({
          id: Type.String({ description: 'Stored event id (= the correlationId)' }),
          type: Type.String(),
          position: Type.Integer(),
          subject: Type.Union([Type.String(), Type.Null()]),
        }),
        Type.Null(),
      ],
      { description: 'The originating event, when known' },
    ),
    nodes: Type.Array(ChainNodeSchema, { description: 'The events of the chain in global position order (the root is not repeated here)' }),
    edges: Type.Array(Type.Object({ from: Type.String(), to: Type.String() }), { description: 'causationId → eventId, one per node that has a cause' }),
    agentIds: Type.Array(Type.String(), { description: 'Every agent involved, in the order they first appeared' }),
    used: Type.Object(
      { hops: Type.Integer(), decisions: Type.Integer(), tokens: Type.Integer(), costUsd: Type.Number() },
      { description: 'Budgets used: largest hop, decisions counted, their tokens and cost' },
    ),
    halted: Type.Union([
      Type.Object({
        reason: Type.String({ description: 'max-hops, max-decisions, max-tokens or max-cost' }),
        limit: Type.Number(),
        used: Type.Number(),
        agentId: Type.String({ description: 'The agent whose step would have gone beyond the limit' }),
        haltedAt: Type.String({ format: 'date-time' }),
      }),
      Type.Null(),
    ]),
    nodeCount: Type.Integer(),
    truncated: Type.Boolean({ description: 'True when only the first nodes are listed (very large chains)' }),
    firstPosition: Type.Integer(),
    lastPosition: Type.Integer(),
    updatedAt: Type.String({ format: 'date-time', description: "When the chain's latest event happened" }),
  },
  { $id: 'Chain' },
);
export type ChainHttpView = Static<typeof ChainViewSchema>;

export function chainHttpView(chain: ChainReadView): ChainHttpView {
  return {
    correlationId: chain.correlationId,
    root: chain.root,
    nodes: [...chain.nodes],
    edges: [...chain.edges],
    agentIds: [...chain.agentIds],
    used: chain.used,
    halted: chain.halted,
    nodeCount: chain.nodeCount,
    truncated: chain.truncated,
    firstPosition: chain.firstPosition,
    lastPosition: chain.lastPosition,
    updatedAt: chain.updatedAt,
  };
}
