import type { CommandRequestError } from "./request-error.js";

/** How the client retries a request that may not have been processed. */
export interface ClientRetryOptions {
  /** Attempts in all, the first included; 1 turns retries off. Default 5. */
  attempts?: number;
  /** Backoff cap before the first retry in ms; doubles per retry, full jitter. Default 100. */
  baseDelayMs?: number;
  /** Largest backoff cap in ms. Default 2000. */
  maxDelayMs?: number;
}

/** What `onRetry` is told before the client sleeps and sends the same request again. */
export interface RetryInfo {
  /** The attempt that just failed (1 for the first). */
  attempt: number;
  /** Why it failed: `timeout`, `no_responders`, `unavailable`, `unknown_outcome`, `overloaded` or `internal`. */
  error: CommandRequestError;
  /** The backoff before the next attempt, in ms. */
  delayMs: number;
  subject: string;
  /** The key every attempt carries. */
  idempotencyKey: string;
}

export interface ClientOptions {
  /** Domain whose commands `send` addresses: subjects are `<domain>.cmd.<command>`. Required. */
  domain: string;
  /**
   * How long one attempt waits for its reply, in ms. Default 15000: longer than
   * the latest a worker with default settings answers (its 10 s transaction
   * deadline plus 250 ms, see docs/reliability.md), so a slow commit is not
   * retried while it still runs. Raise it with `HERALD_TX_DEADLINE_MS`.
   */
  timeoutMs?: number;
  /** Retries on timeout, no responders and retryable error replies. Defaults: see ClientRetryOptions. */
  retry?: ClientRetryOptions;
  /** Called before each retry (logging, metrics). Default: none. */
  onRetry?: (info: RetryInfo) => void;
  /** Stream of the domain's events, where `awaitConsumers` durables are looked up. Default `<DOMAIN>_EVENTS`. */
  stream?: string;
}

/** Per-call options of `send` and `sendRaw`. */
export interface SendOptions {
  /**
   * The request's Idempotency-Key: 1-255 visible ASCII characters. Default: a
   * random UUID made for this call and kept across its retries. Pass your own to
   * retry an operation across processes (store it with the operation first).
   */
  idempotencyKey?: string;
  /** Overrides the client's `timeoutMs` for this call. Default: the client's. */
  timeoutMs?: number;
  /** Overrides fields of the client's `retry` for this call. Default: the client's. */
  retry?: ClientRetryOptions;
  /**
   * Durable consumers (of the domain's event stream, with a database) that must
   * have applied the command's events before `send` returns. A committed reply
   * then says who did (`appliedBy`) and who had not within `awaitTimeoutMs`
   * (`notYetAppliedBy`: committed, not yet applied; never retry for it). A
   * rejected command returns at once. An unknown durable, or one without a
   * database, throws `unknown_consumer` before the command is sent. Default: none.
   */
  awaitConsumers?: readonly string[];
  /** Bound of that wait after the committed reply, in ms (> 0); `send` returns within it plus 250 ms. Default 5000. */
  awaitTimeoutMs?: number;
}

/** Retry settings with every default filled in. */
export interface ResolvedRetry {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_CLIENT_RETRY: Readonly<ResolvedRetry> = Object.freeze({ attempts: 5, baseDelayMs: 100, maxDelayMs: 2000 });

/** Merges retry options over the defaults and refuses values that cannot work. */
export function resolveRetry(...layers: Array<ClientRetryOptions | undefined>): ResolvedRetry {
  const merged: ResolvedRetry = { ...DEFAULT_CLIENT_RETRY };
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer) as Array<[keyof ResolvedRetry, number | undefined]>) if (v !== undefined) merged[k] = v;
  }
  if (!Number.isInteger(merged.attempts) || merged.attempts < 1) throw new RangeError(`retry.attempts must be an integer >= 1, got ${merged.attempts}`);
  if (!(merged.baseDelayMs >= 0) || !(merged.maxDelayMs >= 0)) throw new RangeError("retry delays must be >= 0");
  return merged;
}

/** Checks a timeout option; NATS refuses timeouts below 1 ms. */
export function resolveTimeout(value: number | undefined, fallback: number): number {
  const timeout = value ?? fallback;
  if (!Number.isFinite(timeout) || timeout < 1) throw new RangeError(`timeoutMs must be a number >= 1, got ${timeout}`);
  return timeout;
}
