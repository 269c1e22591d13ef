import { CE, MSG_ID_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER } from "./headers.js";
import { eventSource, eventType } from "./subjects.js";

/** Identity of the command an event came from, carried as CloudEvents extensions. */
export interface EventOrigin {
  domain: string;
  commandId: string;
  idempotencyKey: string;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/**
 * Headers of one event in the CloudEvents NATS binding (binary mode), plus
 * `Nats-Msg-Id` = `ce-id` so JetStream drops a re-publication.
 */
export function cloudEventHeaders(origin: EventOrigin, event: { id: string; name: string; time: Date }): Record<string, string> {
  const headers: Record<string, string> = {
    [CE.specversion]: "1.0",
    [CE.id]: event.id,
    [CE.type]: eventType(origin.domain, event.name),
    [CE.source]: eventSource(origin.domain),
    [CE.time]: event.time.toISOString(),
    [CE.contentType]: "application/json",
    [CE.commandId]: origin.commandId,
    [CE.idempotencyKey]: origin.idempotencyKey,
    [MSG_ID_HEADER]: event.id,
  };
  if (origin.traceparent) headers[TRACEPARENT_HEADER] = origin.traceparent;
  if (origin.tracestate) headers[TRACESTATE_HEADER] = origin.tracestate;
  return headers;
}
