import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { Type, type Static } from '@sinclair/typebox';
import type { Response } from 'express';
import { QueryBus } from '@nestjs/cqrs';
import type { Page, TriggerFiringView, TriggerView as TriggerReadView } from '@meridian/infrastructure/read-models';
import { GetTriggerQuery, ListTriggerFiringsQuery, ListTriggersQuery, type TriggerEvaluationView } from './trigger.queries';
import { Ctx, type RequestContext } from '../../http/request-context.decorator';
import { TypeBoxQueryPipe } from '../../http/typebox.pipe';
import { etag } from '../../shared/aggregate-command';
import { ItemQuerySchema, pageQueryFields, PageQuerySchema } from '../../shared/list-query.schema';
import type { TriggerView } from '../trigger.view';

const TriggerListQuerySchema = Type.Object(
  { ...pageQueryFields, agentId: Type.Optional(Type.String({ minLength: 1 })), includeDeleted: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);

/** The read model's row in the shape the trigger commands answer with, plus timestamps. */
function triggerView(trigger: TriggerReadView): TriggerView & { createdAt: string; updatedAt: string } {
  const definition = trigger.definition as { name: string; condition: unknown; action: unknown; cooldown?: string };
  return {
    id: trigger.id,
    name: trigger.name,
    agentId: trigger.agentId,
    condition: definition.condition,
    action: definition.action,
    ...(definition.cooldown !== undefined ? { cooldown: definition.cooldown } : {}),
    enabled: trigger.enabled,
    deleted: trigger.deleted,
    firingCount: trigger.firingCount,
    lastFiredAt: trigger.lastFiredAt,
    version: trigger.definitionVersion,
    revision: trigger.revision,
    createdAt: trigger.createdAt,
    updatedAt: trigger.updatedAt,
  };
}

@ApiTags('triggers')
@Controller('api/v1/triggers')
export class TriggerQueriesHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiQuery({ name: 'agentId', required: false })
  @ApiQuery({ name: 'includeDeleted', required: false })
  async list(@Query(new TypeBoxQueryPipe(TriggerListQuerySchema)) query: Static<typeof TriggerListQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<TriggerView>> {
    const page = await this.queries.execute(new ListTriggersQuery(ctx.tenantId, query));
    return { items: page.items.map(triggerView), nextCursor: page.nextCursor };
  }

  @Get(':id')
  async get(
    @Param('id') triggerId: string,
    @Query(new TypeBoxQueryPipe(ItemQuerySchema)) query: Static<typeof ItemQuerySchema>,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TriggerView & { evaluation: TriggerEvaluationView | null }> {
    const trigger = await this.queries.execute(new GetTriggerQuery(ctx.tenantId, triggerId, query.minPosition));
    response.setHeader('ETag', etag(trigger.revision));
    // What the engine counted (evaluations, firings, suppressions, late events) and when its
    // condition state started; null until the engine has seen the trigger.
    return { ...triggerView(trigger), evaluation: trigger.evaluation };
  }

  /** Each firing with the events that matched. */
  @Get(':id/firings')
  firings(@Param('id') triggerId: string, @Query(new TypeBoxQueryPipe(PageQuerySchema)) query: Static<typeof PageQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<TriggerFiringView>> {
    return this.queries.execute(new ListTriggerFiringsQuery(ctx.tenantId, triggerId, query));
  }
}
