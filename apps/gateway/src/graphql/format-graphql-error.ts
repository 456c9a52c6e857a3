import { unwrapResolverError } from '@apollo/server/errors';
import { Logger } from '@nestjs/common';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { toProblem } from '../http/problem-details.filter';

const logger = new Logger('GraphQL');

/**
 * Errors raised by Meridian's own code (the API key guard, read-your-writes waits, the read
 * repositories' checks) carry the same stable `code` as over REST, with the HTTP status they would
 * have had in `extensions.status`: a 401 there is `UNAUTHENTICATED`, an undecodable cursor is
 * `INVALID_CURSOR`. GraphQL's own errors (parse, validation, variable coercion) pass unchanged.
 * Anything unexpected is logged and reported without internals.
 */
export function formatGraphqlError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const cause = unwrapResolverError(error);
  if (cause instanceof GraphQLError) return formatted;
  const problem = toProblem(cause, 'graphql');
  if (problem.status >= 500 && problem.code === 'INTERNAL_ERROR') {
    logger.error({ err: cause, path: formatted.path }, 'Unhandled error in a GraphQL resolver');
  }
  return {
    message: problem.detail,
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: {
      code: problem.code,
      status: problem.status,
      ...(problem.errors ? { errors: problem.errors } : {}),
    },
  };
}
