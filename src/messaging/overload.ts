import { ERROR_STATUS } from "../errors.js";
import type { ErrorReply } from "../protocol/replies.js";

const MESSAGE = "worker is at its in-flight limit; retry with the same key";
const encoder = new TextEncoder();
/** Encoded replies by hint: under overload the same few go out thousands of times a second. */
const bodies = new Map<number, Uint8Array>();

/**
 * The overloaded answer, with `details.retryAfterMs`: about how long the
 * worker needs to finish what it holds, at the pace it finishes commands now.
 * Clients that wait at least that long do not come back while it is still
 * full, so the excess costs a few replies instead of a storm of them. The
 * hint is rounded up to 10 ms, so the encoded replies can be kept.
 */
export function overloadedReply(retryAfterMs: number): { status: number; message: string; body: Uint8Array } {
  const hint = Math.ceil(retryAfterMs / 10) * 10;
  let body = bodies.get(hint);
  if (!body) {
    const reply: ErrorReply = { status: "error", error: { code: "overloaded", message: MESSAGE, details: { retryAfterMs: hint } } };
    body = encoder.encode(JSON.stringify(reply));
    bodies.set(hint, body);
  }
  return { status: ERROR_STATUS.overloaded, message: MESSAGE, body };
}

/** Bounds of the retry hint, in ms. */
const RETRY_AFTER_MIN_MS = 10;
const RETRY_AFTER_MAX_MS = 5_000;
/** The pace assumed before any command finished: one per ms. */
const UNKNOWN_RATE = 1;

/** How fast a worker finishes and refuses commands, smoothed over about a second, and the wait it suggests. */
export interface Pace {
  finished(): void;
  refused(): void;
  /**
   * Time to finish `inFlight` commands at the current pace, stretched by how
   * many requests are refused per command finished (each refused client will
   * come back and queue too), within [10, 5000] ms.
   */
  retryAfterMs(inFlight: number): number;
}

/** Length of a measuring window in ms; each window's rates weigh half. */
const WINDOW_MS = 250;

export function createPace(now: () => number = () => performance.now()): Pace {
  let finishRate = 0;
  let refuseRate = 0;
  let windowStart = now();
  let finished = 0;
  let refused = 0;
  const roll = () => {
    const elapsed = now() - windowStart;
    if (elapsed < WINDOW_MS) return;
    finishRate = finishRate === 0 ? finished / elapsed : 0.5 * finishRate + 0.5 * (finished / elapsed);
    refuseRate = 0.5 * refuseRate + 0.5 * (refused / elapsed);
    windowStart += elapsed;
    finished = 0;
    refused = 0;
  };
  return {
    finished() {
      finished++;
      roll();
    },
    refused() {
      refused++;
      roll();
    },
    retryAfterMs(inFlight) {
      const rate = finishRate > 0 ? finishRate : UNKNOWN_RATE;
      const estimate = (inFlight / rate) * (1 + refuseRate / rate);
      return Math.round(Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, estimate)));
    },
  };
}
