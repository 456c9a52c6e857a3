import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { Type, type Static } from '@sinclair/typebox';
import { notFound } from '@meridian/domain';
import { EntitiesReadRepository, type EntityView } from '@meridian/infrastructure/read-models';
import { Ctx, type RequestContext } from '../http/request-context.decorator';
import { TypeBoxQueryPipe } from '../http/typebox.pipe';
import { ReadYourWrites } from '../shared/read-your-writes';

const EntityQuerySchema = Type.Object({ minPosition: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false });

@ApiTags('events')
@Controller('api/v1/entities')
export class GetEntityHttpController {
  constructor(
    private readonly entities: EntitiesReadRepository,
    private readonly consistency: ReadYourWrites,
  ) {}

  /** The entity's state folded from its domain events, with counts and first/last seen. */
  @Get(':subject')
  @ApiQuery({ name: 'minPosition', required: false })
  async get(@Param('subject') subject: string, @Query(new TypeBoxQueryPipe(EntityQuerySchema)) query: Static<typeof EntityQuerySchema>, @Ctx() ctx: RequestContext): Promise<EntityView> {
    await this.consistency.require(query.minPosition, ['entities']);
    const entity = await this.entities.get(subject, ctx.tenantId);
    if (!entity) throw notFound('ENTITY_NOT_FOUND', `No events have been ingested for subject "${subject}".`);
    return entity;
  }
}
