/** The structured logger the runtime writes to (pino's call shape: fields first, then the message). */
export interface RuntimeLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const SILENT_RUNTIME_LOGGER: RuntimeLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
