import type { INestApplication } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';

/**
 * What every app that serves HTTP sets up the same way: structured logs, the plain-WebSocket
 * adapter (`/ws`), graceful shutdown, and the OpenAPI document at `/docs` (JSON at `/docs-json`).
 */
export function configureHttpApp(app: INestApplication): void {
  app.useLogger(app.get(Logger));
  const http = app.getHttpAdapter().getInstance() as { set(setting: string, value: unknown): void };
  // Aggregates carry their own ETag (the stream revision); Express's body hashes would be misleading.
  http.set('etag', false);
  http.set('x-powered-by', false);
  app.useWebSocketAdapter(new WsAdapter(app));
  app.enableShutdownHooks();
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Meridian')
      .setDescription('Event-sourced backend for proactive, collaborating AI agents. Errors are application/problem+json (RFC 9457) with a stable `code`.')
      .setVersion('1')
      .setOpenAPIVersion('3.1.0')
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'apiKey')
      .addBearerAuth()
      .addSecurityRequirements('apiKey')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
