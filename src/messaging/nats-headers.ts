import { headers as natsHeaders, Match, type MsgHdrs } from "@nats-io/nats-core";

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
