/**
 * Live text deltas of a reply being generated (WebSocket `token` messages). Ephemeral by design:
 * the complete reply is stored as an event once decided, so a listener that misses deltas loses
 * nothing but the typing effect.
 */
export const TOKEN_STREAM = Symbol('TokenStream');

export interface ReplyToken {
  readonly tenantId: string;
  readonly conversationId: string;
  /** The id the reply will be stored under. */
  readonly messageId: string;
  readonly agentId: string;
  readonly delta: string;
}

export type TokenListener = (token: ReplyToken) => void;

export interface TokenStream {
  publish(token: ReplyToken): void;
  /** Returns the function that stops listening. */
  listen(listener: TokenListener): () => void;
}

/** In-process token stream (standalone mode). */
export class InProcessTokenStream implements TokenStream {
  private readonly listeners = new Set<TokenListener>();

  publish(token: ReplyToken): void {
    for (const listener of this.listeners) {
      try {
        listener(token);
      } catch {
        // A listener's failure must not stop a decision or the other listeners.
      }
    }
  }

  listen(listener: TokenListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
