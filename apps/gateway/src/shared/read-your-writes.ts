import { Inject, Injectable, Logger } from '@nestjs/common';
import { MERIDIAN_CONFIG, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { PROJECTION_MANAGER, type ProjectionManager } from '@meridian/infrastructure/read-models';
import { HttpProblem } from '../http/problem-details';

/**
 * Writes answer once the read models they affect have reached the write's position, so a client
 * can read its own writes. Bounded: past the timeout the write (already durable) answers anyway.
 */
@Injectable()
export class ReadYourWrites {
  private readonly logger = new Logger(ReadYourWrites.name);

  constructor(
    @Inject(PROJECTION_MANAGER) private readonly projections: ProjectionManager,
    @Inject(MERIDIAN_CONFIG) private readonly config: MeridianConfig,
  ) {}

  async waitFor(position: number, projections: readonly string[]): Promise<void> {
    if (position <= 0 || this.config.consistencyTimeoutMs === 0) return;
    try {
      await this.projections.waitForPosition(position, { projections: [...projections], timeoutMs: this.config.consistencyTimeoutMs });
    } catch (error) {
      this.logger.warn({ position, projections, err: error }, 'Read models did not catch up in time; answering anyway');
    }
  }

  /**
   * A read with `minPosition` (a position a write answered with): wait until the read models it
   * uses have reached it, or answer 503 so the client knows the data would be stale.
   */
  async require(minPosition: number | undefined, projections: readonly string[]): Promise<void> {
    if (minPosition === undefined || minPosition <= 0) return;
    try {
      await this.projections.waitForPosition(minPosition, { projections: [...projections], timeoutMs: Math.max(this.config.consistencyTimeoutMs, 1000) });
    } catch {
      throw new HttpProblem(503, 'READ_MODELS_BEHIND', `The read models have not reached position ${minPosition} yet; retry shortly.`);
    }
  }
}
