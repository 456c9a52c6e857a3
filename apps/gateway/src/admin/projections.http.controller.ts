import { Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/roles.decorator';
import { PROJECTION_MANAGER, type ProjectionManager, type ProjectionStatus, type RebuildStarted } from '@meridian/infrastructure/read-models';

@ApiTags('operations')
@Roles('admin', 'operator')
@Controller('api/v1/admin/projections')
export class ProjectionsHttpController {
  constructor(@Inject(PROJECTION_MANAGER) private readonly projections: ProjectionManager) {}

  /** Each projection's active version, checkpoint, lag and state; a running rebuild's progress (position, events/s, ETA). */
  @Get()
  async list(): Promise<{ items: ProjectionStatus[] }> {
    return { items: await this.projections.status() };
  }

  /** Rebuilds a projection from position 0 as a new version, in the background; the current version serves until the switch. */
  @Post(':name/rebuild')
  @HttpCode(202)
  rebuild(@Param('name') name: string): Promise<RebuildStarted> {
    return this.projections.rebuild(name);
  }
}
