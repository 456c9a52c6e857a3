import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { Type, type Static } from '@sinclair/typebox';
import type { Response } from 'express';
import { notFound } from '@meridian/domain';
import { TriggersReadRepository, type Page, type TriggerFiringView, type TriggerView as TriggerReadView } from '@meridian/infrastructure/read-models';
import { Ctx, type RequestContext } from '../../http/request-context.decorator';
import { TypeBoxQueryPipe } from '../../http/typebox.pipe';
import { etag } from '../../shared/aggregate-command';
import { ItemQuerySchema, pageQueryFields, PageQuerySchema } from '../../shared/list-query.schema';
import { ReadYourWrites } from '../../shared/read-your-writes';
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
  constructor(
    private readonly triggers: TriggersReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  @Get()
  @ApiQuery({ name: 'agentId', required: false })
  @ApiQuery({ name: 'includeDeleted', required: false })
  async list(@Query(new TypeBoxQueryPipe(TriggerListQuerySchema)) query: Static<typeof TriggerListQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<TriggerView>> {
    await this.consistency.require(query.minPosition, ['triggers']);
    const page = await this.triggers.list({
      tenantId: ctx.tenantId,
      limit: query.limit,
      cursor: query.cursor ?? null,
      ...(query.agentId ? { agentId: query.agentId } : {}),
      includeDeleted: query.includeDeleted ?? false,
    });
    return { items: page.items.map(triggerView), nextCursor: page.nextCursor };
  }

  @Get(':id')
  async get(
    @Param('id') triggerId: string,
    @Query(new TypeBoxQueryPipe(ItemQuerySchema)) query: Static<typeof ItemQuerySchema>,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TriggerView> {
    await this.consistency.require(query.minPosition, ['triggers']);
    const trigger = await this.triggers.get(triggerId, ctx.tenantId);
    if (!trigger) throw notFound('TRIGGER_NOT_FOUND', `Trigger "${triggerId}" does not exist.`);
    response.setHeader('ETag', etag(trigger.revision));
    return triggerView(trigger);
  }

  /** Each firing with the events that matched. */
  @Get(':id/firings')
  async firings(@Param('id') triggerId: string, @Query(new TypeBoxQueryPipe(PageQuerySchema)) query: Static<typeof PageQuerySchema>, @Ctx() ctx: RequestContext): Promise<Page<TriggerFiringView>> {
    await this.consistency.require(query.minPosition, ['triggers']);
    if (!(await this.triggers.get(triggerId, ctx.tenantId))) throw notFound('TRIGGER_NOT_FOUND', `Trigger "${triggerId}" does not exist.`);
    return this.triggers.firings(triggerId, { tenantId: ctx.tenantId, limit: query.limit, cursor: query.cursor ?? null });
  }
}
