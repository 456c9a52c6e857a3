import { IQueryHandler, Query, QueryHandler } from '@nestjs/cqrs';
import { notFound } from '@meridian/domain';
import { EntitiesReadRepository, type EntityView } from '@meridian/infrastructure/read-models';
import { ReadYourWrites } from '../shared/read-your-writes';

/** An entity's state folded from its domain events, from the `entities` read model. */
export class GetEntityQuery extends Query<EntityView> {
  constructor(
    readonly tenantId: string,
    readonly subject: string,
    readonly minPosition?: number,
  ) {
    super();
  }
}

@QueryHandler(GetEntityQuery)
export class GetEntityHandler implements IQueryHandler<GetEntityQuery> {
  constructor(
    private readonly entities: EntitiesReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  async execute({ tenantId, subject, minPosition }: GetEntityQuery): Promise<EntityView> {
    await this.consistency.require(minPosition, ['entities']);
    const entity = await this.entities.get(subject, tenantId);
    if (!entity) throw notFound('ENTITY_NOT_FOUND', `No events have been ingested for subject "${subject}".`);
    return entity;
  }
}
