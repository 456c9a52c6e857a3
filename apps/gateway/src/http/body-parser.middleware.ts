import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import express, { type NextFunction, type Response } from 'express';
import { MERIDIAN_CONFIG, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import type { MeridianRequest } from './meridian-request';
import { HttpProblem } from './problem-details';

/** `application/json` and any `+json` type (CloudEvents structured and batched modes among them). */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/**
 * Reads every body once, raw and bounded, keeps the bytes (webhook signatures and idempotency
 * fingerprints are computed over them) and parses JSON types. Failures become problem+json:
 * oversize → 413, malformed JSON → 400. Non-JSON bodies stay as a Buffer: only the routes that
 * accept them (CloudEvents binary mode) use them; the others answer 415.
 */
@Injectable()
export class BodyParserMiddleware implements NestMiddleware {
  private readonly readRaw: ReturnType<typeof express.raw>;

  constructor(@Inject(MERIDIAN_CONFIG) private readonly config: MeridianConfig) {
    this.readRaw = express.raw({ type: () => true, limit: config.maxBodyBytes });
  }

  async use(request: MeridianRequest, response: Response, next: NextFunction): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.readRaw(request, response, (error?: unknown) => (error ? reject(this.translate(error)) : resolve()));
    });
    const raw: unknown = request.body;
    if (Buffer.isBuffer(raw)) {
      request.rawBody = raw;
      if (raw.length === 0) {
        request.body = undefined;
      } else if (isJsonContentType(request.header('content-type'))) {
        try {
          request.body = JSON.parse(raw.toString('utf8'));
        } catch (error) {
          throw new HttpProblem(400, 'MALFORMED_JSON', `The body is not valid JSON: ${(error as Error).message}`);
        }
      }
    } else {
      request.body = undefined;
    }
    next();
  }

  private translate(error: unknown): HttpProblem {
    const e = error as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large' || e.status === 413) {
      return new HttpProblem(413, 'PAYLOAD_TOO_LARGE', `The body exceeds the limit of ${this.config.maxBodyBytes} bytes.`);
    }
    if (e.type === 'encoding.unsupported' || e.status === 415) {
      return new HttpProblem(415, 'UNSUPPORTED_MEDIA_TYPE', e.message ?? 'Unsupported content encoding.');
    }
    return new HttpProblem(e.status && e.status < 500 ? e.status : 400, 'BAD_REQUEST', e.message ?? 'The body could not be read.');
  }
}
