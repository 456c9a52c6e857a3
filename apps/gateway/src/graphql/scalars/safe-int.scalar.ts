import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

function asSafeInteger(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw new GraphQLError(`SafeInt must be an integer between -(2^53 - 1) and 2^53 - 1; got ${JSON.stringify(value)}.`);
}

/**
 * Store positions and lags. GraphQL's Int is 32-bit and a long-lived store passes 2^31 events;
 * a JSON number holds any integer up to 2^53 - 1 exactly, which is what positions are in JS.
 */
export const SafeIntScalar = new GraphQLScalarType({
  name: 'SafeInt',
  description: 'An integer up to 2^53 - 1 (global positions, checkpoints, lags), sent as a JSON number.',
  serialize: asSafeInteger,
  parseValue: asSafeInteger,
  parseLiteral: (node) => {
    if (node.kind !== Kind.INT) throw new GraphQLError(`SafeInt must be an integer literal; got a ${node.kind}.`);
    return asSafeInteger(Number(node.value));
  },
});
