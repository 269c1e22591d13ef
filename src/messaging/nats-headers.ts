import { headers as natsHeaders, Match, type MsgHdrs } from "@nats-io/nats-core";
import { CommandError } from "../errors.js";
import { IDEMPOTENCY_KEY_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER } from "../protocol/headers.js";

/** The headers a command request may carry, checked. */
export interface RequestHeaders {
  idempotencyKey: string | undefined;
  /** Only a well-formed W3C traceparent; anything else is dropped. */
  traceparent: string | undefined;
  /** Only with a traceparent, and at most 512 visible ASCII characters. */
  tracestate: string | undefined;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const TRACESTATE = /^[\x20-\x7e]{1,512}$/;

/**
 * Reads a request's headers. A header block the client library cannot decode, or
 * two Idempotency-Key values, is refused (400) rather than guessed at; trace
 * headers that are malformed or oversized are dropped, since they are copied
 * into every event and must never make one unpublishable.
 */
export function readRequestHeaders(h: MsgHdrs | undefined): RequestHeaders {
  try {
    if (h && h.values(IDEMPOTENCY_KEY_HEADER, Match.IgnoreCase).length > 1) {
      throw new CommandError("invalid_idempotency_key", "send exactly one Idempotency-Key header");
    }
    const traceparent = headerValue(h, TRACEPARENT_HEADER);
    const tracestate = headerValue(h, TRACESTATE_HEADER);
    const validParent = traceparent !== undefined && TRACEPARENT.test(traceparent) ? traceparent : undefined;
    return {
      idempotencyKey: headerValue(h, IDEMPOTENCY_KEY_HEADER),
      traceparent: validParent,
      tracestate: validParent && tracestate !== undefined && TRACESTATE.test(tracestate) ? tracestate : undefined,
    };
  } catch (err) {
    if (err instanceof CommandError) throw err;
    throw new CommandError("invalid_idempotency_key", "the request's headers could not be read", { cause: err });
  }
}

/** A header value, matched case-insensitively (clients spell `Idempotency-Key` many ways). */
export function headerValue(h: MsgHdrs | undefined, name: string): string | undefined {
  if (!h) return undefined;
  if (h.has(name)) return h.get(name);
  return h.has(name, Match.IgnoreCase) ? h.get(name, Match.IgnoreCase) : undefined;
}

/** NATS headers from a plain record. */
export function toNatsHeaders(record: Readonly<Record<string, string>>): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(record)) h.set(k, v);
  return h;
}

/** A plain record of the first value of each header. */
export function fromNatsHeaders(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
}
