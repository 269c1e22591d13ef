import { context, propagation, type Context, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/nats-core";

/** Reads W3C trace headers (`traceparent`, `tracestate`) from NATS headers. */
export const natsHeaderGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (carrier) => (carrier ? carrier.keys() : []),
  get: (carrier, key) => (carrier?.has(key) ? carrier.get(key) : undefined),
};

/** Writes W3C trace headers into NATS headers. */
export const natsHeaderSetter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** Puts the active (or given) trace context into outgoing NATS headers. No SDK registered: writes nothing. */
export function injectTraceContext(headers: MsgHdrs, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, natsHeaderSetter);
}

/** The trace context carried by incoming NATS headers (the active one when there is none). */
export function extractTraceContext(headers: MsgHdrs | undefined, base: Context = context.active()): Context {
  return propagation.extract(base, headers, natsHeaderGetter);
}

/** Record form of the same, for headers stored in the outbox. */
export const recordGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};
