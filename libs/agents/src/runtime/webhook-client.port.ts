/** Outbound HTTP for `call-webhook` actions; the adapter retries with backoff. */
export const WEBHOOK_CLIENT = Symbol('WebhookClient');

export interface WebhookRequest {
  readonly url: string;
  readonly method: string;
  readonly body?: unknown;
  /** Sent as `Idempotency-Key`: the same for every attempt and every retry after a restart. */
  readonly idempotencyKey: string;
  readonly signal?: AbortSignal;
}

export type WebhookResult =
  | { readonly ok: true; readonly status: number; readonly attempts: number }
  | { readonly ok: false; readonly status?: number; readonly attempts: number; readonly message: string };

export interface WebhookClient {
  call(request: WebhookRequest): Promise<WebhookResult>;
}
