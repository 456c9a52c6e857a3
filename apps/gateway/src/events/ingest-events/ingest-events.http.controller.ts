import { Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Static } from '@sinclair/typebox';
import { INBOUND_EVENTS, type InboundEventsPort } from '@meridian/agents';
import { CloudEventSchema } from '@meridian/infrastructure/cloud-events';
import { MERIDIAN_CONFIG, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import type { MeridianRequest } from '../../http/meridian-request';
import { openApi } from '../../http/openapi-schema';
import { requestContextOf } from '../../http/request-context.decorator';
import { CloudEventParser } from './cloud-event.parser';
import { IngestResponseSchema } from './ingest-response.schema';

@ApiTags('events')
@Controller('api/v1/events')
export class IngestEventsHttpController {
  private readonly parser: CloudEventParser;

  constructor(
    @Inject(INBOUND_EVENTS) private readonly inbound: InboundEventsPort,
    @Inject(MERIDIAN_CONFIG) config: MeridianConfig,
  ) {
    this.parser = new CloudEventParser(config.maxBatchEvents);
  }

  /** 202 means durable: the events are stored (or were already) before this answers. */
  @Post()
  @HttpCode(202)
  @ApiBody({
    description:
      'One CloudEvent or an array. Structured (application/cloudevents+json), batched (application/cloudevents-batch+json), binary (ce-* headers) or application/json.',
    schema: { oneOf: [openApi(CloudEventSchema), { type: 'array', items: openApi(CloudEventSchema) }] },
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiResponse({ status: 202, schema: openApi(IngestResponseSchema) })
  async ingest(@Req() request: MeridianRequest): Promise<Static<typeof IngestResponseSchema>> {
    const events = this.parser.parse(request.headers, request.body);
    const ctx = requestContextOf(request);
    return this.inbound.ingest(events, {
      tenantId: ctx.tenantId,
      actor: ctx.actor,
      requestId: ctx.correlationId,
      receivedAt: new Date().toISOString(),
      ...(ctx.traceparent ? { traceparent: ctx.traceparent } : {}),
    });
  }
}
