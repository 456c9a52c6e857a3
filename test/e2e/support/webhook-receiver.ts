import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP receiver for `call-webhook` actions (nothing leaves the machine). It records every
 * delivery with its `Idempotency-Key` and JSON body ({} when empty) and answers 200.
 */
export class WebhookReceiver {
  readonly calls: { key: string | undefined; body: Record<string, unknown> }[] = [];
  private server: Server | null = null;
  url = '';

  async start(path = '/hook'): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        this.calls.push({ key: req.headers['idempotency-key'] as string | undefined, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}${path}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
