import { QueryBus } from '@nestjs/cqrs';
import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import {
  EventsReadRepository,
  type EntityView,
  type IngestedEventView,
  type Page,
} from '@meridian/infrastructure/read-models';
import type { RequestContext } from '../../http/request-context.decorator';
import { GetEntityQuery } from '../../entities/get-entity.query';
import { ListEventsQuery } from '../../events/query-events/list-events.query';
import { notFoundAsNull } from './not-found-as-null';
import { GqlCtx } from '../graphql-request-context';
import { given, pageOf, type ConsistencyArgs, type PageArgs } from './graphql-args';

interface EventFilterInput {
  readonly type?: string | null;
  readonly subject?: string | null;
  readonly after?: number | null;
}

interface EventsArgs extends PageArgs, ConsistencyArgs {
  readonly filter?: EventFilterInput | null;
}

interface EntityArgs extends ConsistencyArgs {
  readonly subject: string;
}

/** `events(filter)` and `entity(subject)`: the ingestion read models. */
@Resolver()
export class EventsResolver {
  constructor(private readonly queries: QueryBus) {}

  @Query('events')
  list(@Args() args: EventsArgs, @GqlCtx() ctx: RequestContext): Promise<Page<IngestedEventView>> {
    const type = given(args.filter?.type);
    const subject = given(args.filter?.subject);
    const after = given(args.filter?.after);
    return this.queries.execute(
      new ListEventsQuery(
        {
          tenantId: ctx.tenantId,
          ...(type !== undefined ? { type } : {}),
          ...(subject !== undefined ? { subject } : {}),
          ...(after !== undefined ? { after } : {}),
          ...pageOf(args),
        },
        given(args.minPosition),
      ),
    );
  }

  @Query('entity')
  entity(@Args() args: EntityArgs, @GqlCtx() ctx: RequestContext): Promise<EntityView | null> {
    return notFoundAsNull(this.queries.execute(new GetEntityQuery(ctx.tenantId, args.subject, given(args.minPosition))));
  }
}

/** An entity's own events, read from the events read model of the entity's tenant. */
@Resolver('Entity')
export class EntityFieldsResolver {
  constructor(private readonly events: EventsReadRepository) {}

  @ResolveField('events')
  eventsOf(@Parent() entity: EntityView, @Args() args: PageArgs): Promise<Page<IngestedEventView>> {
    return this.events.list({ tenantId: entity.tenantId, subject: entity.subject, ...pageOf(args) });
  }
}
