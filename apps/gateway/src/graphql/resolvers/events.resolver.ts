import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import {
  ENTITIES_PROJECTION,
  EntitiesReadRepository,
  EVENTS_PROJECTION,
  EventsReadRepository,
  type EntityView,
  type IngestedEventView,
  type Page,
} from '@meridian/infrastructure/read-models';
import type { RequestContext } from '../../http/request-context.decorator';
import { ReadYourWrites } from '../../shared/read-your-writes';
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
  constructor(
    private readonly events: EventsReadRepository,
    private readonly entities: EntitiesReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  @Query('events')
  async list(@Args() args: EventsArgs, @GqlCtx() ctx: RequestContext): Promise<Page<IngestedEventView>> {
    await this.consistency.require(given(args.minPosition), [EVENTS_PROJECTION]);
    const type = given(args.filter?.type);
    const subject = given(args.filter?.subject);
    const after = given(args.filter?.after);
    return this.events.list({
      tenantId: ctx.tenantId,
      ...(type !== undefined ? { type } : {}),
      ...(subject !== undefined ? { subject } : {}),
      ...(after !== undefined ? { after } : {}),
      ...pageOf(args),
    });
  }

  @Query('entity')
  async entity(@Args() args: EntityArgs, @GqlCtx() ctx: RequestContext): Promise<EntityView | null> {
    await this.consistency.require(given(args.minPosition), [ENTITIES_PROJECTION]);
    return this.entities.get(args.subject, ctx.tenantId);
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
