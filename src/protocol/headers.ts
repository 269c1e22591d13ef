/** Header names of the wire protocol. */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
export const TRACEPARENT_HEADER = "traceparent";
export const TRACESTATE_HEADER = "tracestate";
export const SERVICE_ERROR_HEADER = "Nats-Service-Error";
export const SERVICE_ERROR_CODE_HEADER = "Nats-Service-Error-Code";
export const MSG_ID_HEADER = "Nats-Msg-Id";

/** CloudEvents NATS binding, binary mode. */
export const CE = {
  specversion: "ce-specversion",
  id: "ce-id",
  type: "ce-type",
  source: "ce-source",
  time: "ce-time",
  commandId: "ce-commandid",
  idempotencyKey: "ce-idempotencykey",
  contentType: "content-type",
} as const;

const KEY = /^[\x21-\x7e]{1,255}$/;

/** Idempotency keys are 1-255 visible ASCII characters. */
export function isValidIdempotencyKey(key: string): boolean {
  return KEY.test(key);
}
