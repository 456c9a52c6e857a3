import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { Type, type Static } from '@sinclair/typebox';
import { QueryBus } from '@nestjs/cqrs';
import type { EntityView } from '@meridian/infrastructure/read-models';
import { GetEntityQuery } from './get-entity.query';
import { Ctx, type RequestContext } from '../http/request-context.decorator';
import { TypeBoxQueryPipe } from '../http/typebox.pipe';

const EntityQuerySchema = Type.Object({ minPosition: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false });

@ApiTags('events')
@Controller('api/v1/entities')
export class GetEntityHttpController {
  constructor(private readonly queries: QueryBus) {}

  /** The entity's state folded from its domain events, with counts and first/last seen. */
  @Get(':subject')
  @ApiQuery({ name: 'minPosition', required: false })
  get(@Param('subject') subject: string, @Query(new TypeBoxQueryPipe(EntityQuerySchema)) query: Static<typeof EntityQuerySchema>, @Ctx() ctx: RequestContext): Promise<EntityView> {
    return this.queries.execute(new GetEntityQuery(ctx.tenantId, subject, query.minPosition));
  }
}
