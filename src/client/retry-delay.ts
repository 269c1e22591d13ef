import type { ResolvedRetry } from "./options.js";
import type { CommandRequestError } from "./request-error.js";

/** The protocol's largest `retryAfterMs` (docs/protocol.md, §3): a larger hint is read as this. */
export const MAX_RETRY_AFTER_MS = 5000;

/**
 * How long to wait before attempt `attempt + 1`: exponential backoff with
 * full jitter (within `maxDelayMs`), like the worker's transaction retries,
 * so clients that failed together do not come back together. After an
 * `overloaded` reply, at least the worker's `retryAfterMs` hint (≤ 5 s), spread
 * by up to half again: the protocol says a client waits that long, so the hint
 * is honoured even when it is longer than `maxDelayMs`.
 */
export function retryDelayMs(retry: ResolvedRetry, attempt: number, error: CommandRequestError, random: () => number = Math.random): number {
  const cap = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const backoff = random() * cap;
  const hint = Math.min(MAX_RETRY_AFTER_MS, retryAfterHint(error.details));
  return Math.max(backoff, hint * (1 + random() / 2));
}

/** The `retryAfterMs` an `overloaded` reply carries, or 0. */
function retryAfterHint(details: unknown): number {
  const hint = (details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof hint === "number" && Number.isFinite(hint) && hint > 0 ? hint : 0;
}
