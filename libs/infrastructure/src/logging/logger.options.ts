import type { Params } from 'nestjs-pino';
import type { IncomingMessage } from 'node:http';
import type { MeridianConfig } from '../config/meridian-config';

/** Structured logs (pino): one JSON line per event, with the request's correlation id. */
export function loggerOptions(config: Pick<MeridianConfig, 'logLevel'>): Params {
  return {
    pinoHttp: {
      level: config.logLevel,
      // Health probes and metrics scrapes would drown everything else.
      autoLogging: { ignore: (req: IncomingMessage) => /^\/(health|metrics)/.test(req.url ?? '') },
      customProps: (req: IncomingMessage) => ({ correlationId: (req as IncomingMessage & { correlationId?: string }).correlationId }),
      redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'], remove: true },
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
      },
    },
  };
}
