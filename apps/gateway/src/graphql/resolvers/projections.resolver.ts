import { Inject } from '@nestjs/common';
import { Query, Resolver } from '@nestjs/graphql';
import { PROJECTION_MANAGER, type ProjectionManager, type ProjectionStatus } from '@meridian/infrastructure/read-models';
import { Roles } from '../../auth/roles.decorator';

/**
 * `projections`: each read model's version, checkpoint, lag and state, as GET
 * /api/v1/admin/projections answers it, and for the same roles.
 */
@Resolver()
export class ProjectionsResolver {
  constructor(@Inject(PROJECTION_MANAGER) private readonly projections: ProjectionManager) {}

  @Query('projections')
  @Roles('admin', 'operator')
  list(): Promise<ProjectionStatus[]> {
    return this.projections.status();
  }
}
