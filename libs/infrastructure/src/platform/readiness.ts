/**
 * Dependencies an app checks in `/health/ready` beyond the event store and the read models (which
 * every app uses): Kafka, Redis, its consumers' group membership. Each resolves with details when
 * up and throws when down.
 */
export const READINESS_CHECKS = Symbol('ReadinessChecks');

export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<Record<string, unknown>>;
}
