import type { EntityManager, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { ProjectionStateRecord } from '../engine/projection-bookkeeping.entities';

/**
 * Restricts a query to the rows of the projection's ACTIVE version, looked up in the same statement
 * (a subquery on `projection_states`): one statement sees one snapshot, so a query racing a
 * rebuild's switch reads either the old version or the new one, never a mix or an empty gap.
 */
export function whereActiveVersion<T extends ObjectLiteral>(query: SelectQueryBuilder<T>, manager: EntityManager, alias: string, projection: string): SelectQueryBuilder<T> {
  const parameter = `activeProjection_${alias}`;
  const subQuery = manager
    .createQueryBuilder()
    .subQuery()
    .select('ps.active_version')
    .from(ProjectionStateRecord, 'ps')
    .where(`ps.projection = :${parameter}`)
    .getQuery();
  return query.andWhere(`${alias}.projectionVersion = ${subQuery}`, { [parameter]: projection });
}
