/**
 * Polls `probe` until it returns something other than undefined, and returns that. The deadline is
 * a bound on waiting for asynchronous work (an agent deciding), not a performance assertion: it is
 * generous, and a test that reaches it fails with `what` and the last value seen.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error: unknown) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}${lastError !== undefined ? `: ${lastError instanceof Error ? lastError.message : String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}
