import { Controller, Get, Query } from '@nestjs/common';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { Type, type Static } from '@sinclair/typebox';
import { QueryBus } from '@nestjs/cqrs';
import type { IngestedEventView, Page } from '@meridian/infrastructure/read-models';
import { ListEventsQuery } from './list-events.query';
import { Ctx, type RequestContext } from '../../http/request-context.decorator';
import { TypeBoxQueryPipe } from '../../http/typebox.pipe';

export const EventsQuerySchema = Type.Object(
  {
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Exact type, or a prefix ending in *' })),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'Only events after this global position' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    minPosition: Type.Optional(Type.Integer({ minimum: 0, description: 'Wait until the read model has reached this position (read your writes)' })),
  },
  { additionalProperties: false },
);

@ApiTags('events')
@Controller('api/v1/events')
export class QueryEventsHttpController {
  constructor(private readonly queries: QueryBus) {}

  /** Ingested events in global order. */
  @Get()
  @ApiQuery({ name: 'type', required: false })
  @ApiQuery({ name: 'subject', required: false })
  @ApiQuery({ name: 'after', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'minPosition', required: false })
  list(@Query(new TypeBoxQueryPipe(EventsQuerySchema)) query: Static<typeof EventsQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<IngestedEventView>> {
    return this.queries.execute(new ListEventsQuery({
      tenantId: ctx.tenantId,
      ...(query.type !== undefined ? { type: query.type } : {}),
      ...(query.subject !== undefined ? { subject: query.subject } : {}),
      ...(query.after !== undefined ? { after: query.after } : {}),
      limit: query.limit,
      cursor: query.cursor ?? null,
    }, query.minPosition));
  }
}
