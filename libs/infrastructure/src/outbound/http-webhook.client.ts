import retry from 'async-retry';
import type { WebhookClient, WebhookRequest, WebhookResult } from '@meridian/agents';

export interface HttpWebhookClientOptions {
  /** Retries after the first attempt. Default 4. */
  readonly retries?: number;
  readonly minTimeoutMs?: number;
  readonly maxTimeoutMs?: number;
  /** Per attempt. Default 10 s. */
  readonly timeoutMs?: number;
}

class PermanentFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

class RetryableFailure extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * `call-webhook` over HTTP (fetch). Every attempt carries the same `Idempotency-Key`, so a receiver
 * that honours it applies the call once however often it arrives. Retried with exponential backoff
 * (async-retry): network errors, timeouts, 408, 429 and 5xx. Another 4xx is the receiver refusing
 * the request: retrying cannot help.
 */
export class HttpWebhookClient implements WebhookClient {
  constructor(private readonly options: HttpWebhookClientOptions = {}) {}

  async call(request: WebhookRequest): Promise<WebhookResult> {
    let attempts = 0;
    try {
      const status = await retry(
        async (bail) => {
          attempts += 1;
          try {
            return await this.attempt(request);
          } catch (error: unknown) {
            if (error instanceof PermanentFailure || request.signal?.aborted) {
              bail(error instanceof Error ? error : new Error(String(error)));
              return 0;
            }
            throw error;
          }
        },
        {
          retries: this.options.retries ?? 4,
          minTimeout: this.options.minTimeoutMs ?? 200,
          maxTimeout: this.options.maxTimeoutMs ?? 5_000,
          factor: 2,
          randomize: true,
        },
      );
      return { ok: true, status, attempts };
    } catch (error: unknown) {
      const status = error instanceof PermanentFailure || error instanceof RetryableFailure ? error.status : undefined;
      return { ok: false, attempts, message: error instanceof Error ? error.message : String(error), ...(status !== undefined && { status }) };
    }
  }

  private async attempt(request: WebhookRequest): Promise<number> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 10_000);
    const signal = request.signal !== undefined ? AbortSignal.any([request.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: request.method,
        headers: { 'content-type': 'application/json', 'idempotency-key': request.idempotencyKey, 'user-agent': 'meridian-webhooks' },
        ...(request.method !== 'GET' && request.body !== undefined && { body: JSON.stringify(request.body) }),
        signal,
        redirect: 'manual',
      });
    } catch (error: unknown) {
      throw new RetryableFailure(`unreachable: ${error instanceof Error ? error.message : String(error)}`);
    }
    await response.arrayBuffer().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) return response.status;
    const message = `HTTP ${response.status}`;
    if (response.status === 408 || response.status === 429 || response.status >= 500) throw new RetryableFailure(message, response.status);
    throw new PermanentFailure(message, response.status);
  }
}
