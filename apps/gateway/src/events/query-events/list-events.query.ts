import { IQueryHandler, Query, QueryHandler } from '@nestjs/cqrs';
import { EventsReadRepository, type EventsQuery, type IngestedEventView, type Page } from '@meridian/infrastructure/read-models';
import { ReadYourWrites } from '../../shared/read-your-writes';

/** Ingested events in global order, from the `events` read model. */
export class ListEventsQuery extends Query<Page<IngestedEventView>> {
  constructor(
    readonly filter: EventsQuery,
    readonly minPosition?: number,
  ) {
    super();
  }
}

@QueryHandler(ListEventsQuery)
export class ListEventsHandler implements IQueryHandler<ListEventsQuery> {
  constructor(
    private readonly events: EventsReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  async execute({ filter, minPosition }: ListEventsQuery): Promise<Page<IngestedEventView>> {
    await this.consistency.require(minPosition, ['events']);
    return this.events.list(filter);
  }
}
