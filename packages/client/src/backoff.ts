export type BackoffOptions = {
  /** The first retry waits about this long. */
  initialMs: number;
  /** No wait is longer (before a Retry-After). */
  maxMs: number;
};

/** Retry-After values past this are treated as this: a broken header must not park a batch for hours. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * The wait before retry number `attempt` (0-based): exponential (x2 each time, capped at
 * `maxMs`) with "equal jitter": half of it fixed, half random. The fixed half keeps a floor so
 * retries never hammer a server that is starting up; the random half spreads many clients that
 * lost the server at the same moment so they do not all come back in the same millisecond.
 * A server's Retry-After is a floor on top of that.
 */
export function retryDelay(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** attempt);
  const delay = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(delay, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}

/**
 * Resolves after `ms`, or at once when `signal` aborts. The timer never keeps a process alive:
 * a retry in the background must not hold up a host's exit (a pending flush or close holds it).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    unref(timer);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** `unref` where the platform has it (Node, Bun, Deno); browsers return a number. */
export function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}
