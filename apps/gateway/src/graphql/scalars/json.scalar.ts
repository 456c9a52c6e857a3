import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

/** Turns an inline literal into the JSON value it spells; variables are looked up. */
function literalToJson(node: ValueNode, variables: Readonly<Record<string, unknown>> | null | undefined): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((value) => literalToJson(value, variables));
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((field) => [field.name.value, literalToJson(field.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[node.name.value] ?? null;
    default:
      throw new GraphQLError(`JSON cannot represent a ${node.kind} literal.`);
  }
}

/**
 * Free-form JSON: agent definitions, memory, event data, entity state. These are documents whose
 * shape belongs to the client (or to a versioned definition), so the schema does not spell them out.
 */
export const JsonScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value (object, array, string, number, boolean or null).',
  serialize: (value: unknown) => value,
  parseValue: (value: unknown) => value,
  parseLiteral: (node, variables) => literalToJson(node, variables),
});
