import { DomainError } from '@meridian/domain';

/** GraphQL answers a missing item with null (REST says 404): the query handlers throw not-found. */
export async function notFoundAsNull<T>(work: Promise<T>): Promise<T | null> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof DomainError && error.kind === 'not-found') return null;
    throw error;
  }
}
