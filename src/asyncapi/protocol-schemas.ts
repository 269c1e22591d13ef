import { ERROR_STATUS } from "../errors.js";
import { CE, IDEMPOTENCY_KEY_HEADER, MSG_ID_HEADER, SERVICE_ERROR_CODE_HEADER, SERVICE_ERROR_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER } from "../protocol/headers.js";
import { REJECTED_STATUS } from "../protocol/replies.js";
import { eventSource, eventType } from "../protocol/subjects.js";
import type { JsonSchema } from "./payload-schema.js";

// The wire protocol (docs/protocol.md) as JSON Schemas: request headers, the
// three replies and the CloudEvents headers of events.

const UUID = { type: "string", format: "uuid" } as const;
const TIMESTAMP = { type: "string", format: "date-time" } as const;
const TRACE_HEADERS = {
  [TRACEPARENT_HEADER]: { type: "string", pattern: "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$", description: "W3C Trace Context traceparent (optional)." },
  [TRACESTATE_HEADER]: { type: "string", maxLength: 512, description: "W3C Trace Context tracestate, only with traceparent (optional)." },
};

/** Headers of a command request. */
export const requestHeaders: JsonSchema = {
  type: "object",
  required: [IDEMPOTENCY_KEY_HEADER],
  properties: {
    [IDEMPOTENCY_KEY_HEADER]: {
      type: "string",
      pattern: "^[\\x21-\\x7e]{1,255}$",
      description: "1-255 visible ASCII characters; a UUID per logical operation. The same key replays the stored outcome.",
    },
    ...TRACE_HEADERS,
  },
};

/** `error.code` of an `error` reply: Herald's codes, each with its status. */
export const errorCodes: JsonSchema = {
  type: "string",
  enum: Object.keys(ERROR_STATUS),
  description: `Herald's error codes with their status (Nats-Service-Error-Code): ${Object.entries(ERROR_STATUS).map(([code, status]) => `${code} ${status}`).join(", ")}.`,
  "x-herald-status": { ...ERROR_STATUS },
};

const statuses = [...new Set(Object.values(ERROR_STATUS))].sort((a, b) => a - b).map(String);

/** Payload of a `committed` reply; `result` is the command's own shape. */
export const committedPayload: JsonSchema = {
  type: "object",
  required: ["status", "commandId", "idempotencyKey", "duplicate", "result", "events", "committedAt"],
  properties: {
    status: { const: "committed" },
    commandId: UUID,
    idempotencyKey: { type: "string" },
    duplicate: { type: "boolean", description: "true when this replays an earlier command with the same key" },
    result: { description: "The command's result." },
    events: {
      type: "array",
      items: { type: "object", required: ["id", "subject"], properties: { id: UUID, subject: { type: "string" } } },
    },
    committedAt: TIMESTAMP,
  },
};

/** Payload of a `rejected` reply: a business rule said no; stored and replayed. */
export const rejectedPayload: JsonSchema = {
  type: "object",
  required: ["status", "commandId", "idempotencyKey", "duplicate", "error"],
  properties: {
    status: { const: "rejected" },
    commandId: UUID,
    idempotencyKey: { type: "string" },
    duplicate: { type: "boolean" },
    error: {
      type: "object",
      required: ["code", "message"],
      properties: { code: { type: "string", pattern: "^[a-z][a-z0-9_]{0,63}$", description: "Chosen by the command's handler." }, message: { type: "string" } },
    },
  },
};

/** Payload of an `error` reply: nothing was stored. */
export const errorPayload: JsonSchema = {
  type: "object",
  required: ["status", "error"],
  properties: {
    status: { const: "error" },
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: errorCodes,
        message: { type: "string" },
        details: { description: "invalid_command: the schema issues [{ path, message, code }]; overloaded: { retryAfterMs }." },
      },
    },
  },
};

const serviceErrorHeaders = (code: JsonSchema): JsonSchema => ({
  type: "object",
  required: [SERVICE_ERROR_CODE_HEADER, SERVICE_ERROR_HEADER],
  properties: { [SERVICE_ERROR_CODE_HEADER]: code, [SERVICE_ERROR_HEADER]: { type: "string", description: "The error message." } },
});

export const rejectedHeaders = serviceErrorHeaders({ const: String(REJECTED_STATUS) });
export const errorHeaders = serviceErrorHeaders({ type: "string", enum: statuses });

/** The CloudEvents (NATS binding, binary mode) headers of one event, plus Nats-Msg-Id. */
export function eventHeaders(domain: string, event: string): JsonSchema {
  return {
    type: "object",
    required: [CE.specversion, CE.id, CE.type, CE.source, CE.time, CE.contentType, CE.commandId, CE.idempotencyKey, MSG_ID_HEADER],
    properties: {
      [CE.specversion]: { const: "1.0" },
      [CE.id]: { ...UUID, description: "The event id; equals events[].id in the command's reply." },
      [CE.type]: { const: eventType(domain, event) },
      [CE.source]: { const: eventSource(domain) },
      [CE.time]: { ...TIMESTAMP, description: "The command's committedAt." },
      [CE.contentType]: { const: "application/json" },
      [CE.commandId]: { ...UUID, description: "commandId of the command that emitted the event." },
      [CE.idempotencyKey]: { type: "string", description: "That command's Idempotency-Key." },
      [MSG_ID_HEADER]: { ...UUID, description: "Same as ce-id: JetStream drops a re-publication inside the duplicate window." },
      ...TRACE_HEADERS,
    },
  };
}
