import { Controller, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import { INBOUND_EVENTS, type InboundEventsPort, type IngestResult } from '@meridian/agents';
import { MERIDIAN_CONFIG, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { Public } from '@meridian/infrastructure/operations/public.decorator';
import type { MeridianRequest } from '../http/meridian-request';
import { HttpProblem } from '../http/problem-details';
import { verifyWebhookSignature } from './webhook-signature';
import { webhookToCloudEvent } from './webhook-to-cloud-event';

/**
 * Raw provider payloads, authenticated by an HMAC signature rather than an API key (providers
 * sign; they do not hold Meridian keys). Configure each source's secret in MERIDIAN_WEBHOOK_SECRETS.
 */
@ApiTags('events')
@Public()
@Controller('api/v1/webhooks')
export class IngestWebhookHttpController {
  constructor(
    @Inject(INBOUND_EVENTS) private readonly inbound: InboundEventsPort,
    @Inject(MERIDIAN_CONFIG) private readonly config: MeridianConfig,
  ) {}

  @Post(':source')
  @HttpCode(202)
  @ApiHeader({ name: 'X-Meridian-Signature', required: true, description: 'sha256=<hex HMAC-SHA256 of the raw body with the source secret>' })
  async ingest(@Param('source') source: string, @Req() request: MeridianRequest): Promise<IngestResult> {
    const secret = this.config.webhookSecrets.get(source);
    if (!secret) throw new HttpProblem(404, 'WEBHOOK_SOURCE_NOT_FOUND', `No webhook source "${source}" is configured.`);
    const raw = request.rawBody ?? Buffer.alloc(0);
    if (!verifyWebhookSignature(secret, raw, request.header('x-meridian-signature'))) {
      throw new HttpProblem(401, 'INVALID_SIGNATURE', 'X-Meridian-Signature is missing or does not match the body.');
    }
    const receivedAt = new Date().toISOString();
    const payload = Buffer.isBuffer(request.body) ? undefined : (request.body as unknown);
    const event = webhookToCloudEvent(source, request.header('content-type'), raw, payload, receivedAt);
    return this.inbound.ingest([event], {
      tenantId: this.config.tenantId,
      actor: { kind: 'system', id: `webhook:${source}` },
      requestId: request.correlationId,
      receivedAt,
      ...(request.header('traceparent') ? { traceparent: request.header('traceparent') as string } : {}),
    });
  }
}
