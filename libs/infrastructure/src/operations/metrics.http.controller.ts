import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { Registry } from 'prom-client';
import { METRICS_REGISTRY } from '../metrics';
import { Public } from './public.decorator';

/** Prometheus text exposition format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

@ApiTags('operations')
@Public()
@Controller('metrics')
export class MetricsHttpController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  /** Every metric of this process in Prometheus text format (DESIGN §8), for scrapers: no credentials. */
  @Get()
  @ApiProduces(PROMETHEUS_CONTENT_TYPE)
  @ApiOkResponse({ description: 'Prometheus text exposition format', schema: { type: 'string' } })
  async metrics(@Res() response: Response): Promise<void> {
    const text = await this.registry.metrics();
    // Sent as bytes: Express would otherwise rewrite the content type of a string body (charset first).
    response.status(200).type(PROMETHEUS_CONTENT_TYPE).send(Buffer.from(text, 'utf8'));
  }
}
