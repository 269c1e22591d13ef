import type { EventRef } from "./replies.js";
import { isSegment } from "./subjects.js";

/**
 * A committed command's consistency token: opaque to users, bound to the
 * command's domain. It names the command's events (id and subject), which a
 * consumer compares with what it has applied.
 */
export type ConsistencyToken = string & { readonly __consistencyToken: unique symbol };

/** A token that cannot be read, or belongs to another domain than the one asked. */
export class ConsistencyTokenError extends Error {
  override readonly name = "ConsistencyTokenError";
  constructor(
    message: string,
    /** `invalid_token` or `wrong_domain`. */
    readonly code: "invalid_token" | "wrong_domain",
  ) {
    super(message);
  }
}

/** What a token carries. */
export interface TokenContents {
  domain: string;
  events: EventRef[];
}

const PREFIX = "hct1.";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A command emits few events; a bound keeps a forged token from costing much. */
export const MAX_TOKEN_EVENTS = 1000;

/** The token of a committed reply's events in `domain`. */
export function encodeConsistencyToken(domain: string, events: readonly EventRef[]): ConsistencyToken {
  const body = JSON.stringify({ d: domain, e: events.map((e) => [e.id, e.subject]) });
  return `${PREFIX}${Buffer.from(body, "utf8").toString("base64url")}` as ConsistencyToken;
}

/** Checks an event list as the protocol requires: UUID ids, subjects of `domain`'s events. */
export function checkEventRefs(domain: string, events: unknown): EventRef[] {
  if (!Array.isArray(events) || events.length > MAX_TOKEN_EVENTS) throw new ConsistencyTokenError(`events must be a list of at most ${MAX_TOKEN_EVENTS}`, "invalid_token");
  return events.map((e) => {
    const { id, subject } = (e ?? {}) as { id?: unknown; subject?: unknown };
    if (typeof id !== "string" || !UUID.test(id)) throw new ConsistencyTokenError("an event id is not a UUID", "invalid_token");
    if (typeof subject !== "string" || !subject.startsWith(`${domain}.evt.`) || !isSegment(subject.slice(domain.length + 5))) {
      throw new ConsistencyTokenError(`event subject "${String(subject).slice(0, 80)}" is not an event of domain ${domain}`, "invalid_token");
    }
    return { id: id.toLowerCase(), subject };
  });
}

/** Reads a token; throws ConsistencyTokenError when it is malformed or `expectedDomain` differs. */
export function decodeConsistencyToken(token: string, expectedDomain?: string): TokenContents {
  if (typeof token !== "string" || !token.startsWith(PREFIX) || token.length > 200_000) throw new ConsistencyTokenError("not a Herald consistency token", "invalid_token");
  let parsed: { d?: unknown; e?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token.slice(PREFIX.length), "base64url").toString("utf8"));
  } catch {
    throw new ConsistencyTokenError("not a Herald consistency token", "invalid_token");
  }
  if (typeof parsed?.d !== "string" || !isSegment(parsed.d) || !Array.isArray(parsed.e)) throw new ConsistencyTokenError("not a Herald consistency token", "invalid_token");
  const domain = parsed.d;
  if (expectedDomain !== undefined && domain !== expectedDomain) {
    throw new ConsistencyTokenError(`the token is from domain ${domain}, not ${expectedDomain}`, "wrong_domain");
  }
  const events = checkEventRefs(domain, parsed.e.map((pair) => (Array.isArray(pair) ? { id: pair[0], subject: pair[1] } : pair)));
  return { domain, events };
}
