/**
 * The read side logs progress through whatever logger its host uses: a NestJS `Logger` (`log`,
 * `warn`, `error`) or a pino-like logger (`info(fields, message)`, …). Both are normalised here so
 * the engine stays usable without NestJS (tests, benchmarks).
 */
export type LogFields = Readonly<Record<string, unknown>>;

export interface ReadModelLogger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** pino's calling convention: structured fields first, then the message. */
export interface PinoLikeLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** NestJS's `LoggerService` convention. */
export interface NestLikeLogger {
  log(message: unknown, ...optionalParams: unknown[]): void;
  warn(message: unknown, ...optionalParams: unknown[]): void;
  error(message: unknown, ...optionalParams: unknown[]): void;
}

/** What callers pass in. (`ReadModelLogger` is the engine's internal, normalised form.) */
export type LoggerLike = PinoLikeLogger | NestLikeLogger;

export const silentReadModelLogger: ReadModelLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function isNestLike(logger: LoggerLike): logger is NestLikeLogger {
  return typeof (logger as Partial<NestLikeLogger>).log === 'function' && typeof (logger as Partial<PinoLikeLogger>).info !== 'function';
}

/** Normalises a NestJS or pino-like logger; without one, the engine stays silent. */
export function toReadModelLogger(logger: LoggerLike | undefined): ReadModelLogger {
  if (!logger) return silentReadModelLogger;
  if (isNestLike(logger)) {
    const nest = logger;
    const line = (message: string, fields?: LogFields) => (fields && Object.keys(fields).length > 0 ? `${message} ${JSON.stringify(fields)}` : message);
    return {
      info: (message, fields) => nest.log(line(message, fields)),
      warn: (message, fields) => nest.warn(line(message, fields)),
      error: (message, fields) => nest.error(line(message, fields)),
    };
  }
  const pino = logger as PinoLikeLogger;
  return {
    info: (message, fields) => pino.info({ ...(fields ?? {}) }, message),
    warn: (message, fields) => pino.warn({ ...(fields ?? {}) }, message),
    error: (message, fields) => pino.error({ ...(fields ?? {}) }, message),
  };
}

export function errorFields(error: unknown): { error: string; stack?: string } {
  if (error instanceof Error) return { error: error.message, stack: error.stack };
  return { error: String(error) };
}
