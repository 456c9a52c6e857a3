import { Inject } from '@nestjs/common';
import { Query, Resolver } from '@nestjs/graphql';
import { PROJECTION_MANAGER, type ProjectionManager, type ProjectionStatus } from '@meridian/infrastructure/read-models';

/** `projections`: each read model's version, checkpoint, lag and state (as GET /api/v1/admin/projections). */
@Resolver()
export class ProjectionsResolver {
  constructor(@Inject(PROJECTION_MANAGER) private readonly projections: ProjectionManager) {}

  @Query('projections')
  list(): Promise<ProjectionStatus[]> {
    return this.projections.status();
  }
}
