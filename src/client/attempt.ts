import { headers as natsHeaders, NoRespondersError, RequestError, TimeoutError, type Msg, type NatsConnection } from "@nats-io/nats-core";
import type { Context } from "@opentelemetry/api";
import { IDEMPOTENCY_KEY_HEADER, SERVICE_ERROR_CODE_HEADER } from "../protocol/headers.js";
import type { StoredReply } from "../protocol/replies.js";
import { injectTraceContext } from "../telemetry/propagation.js";
import { CommandRequestError } from "./request-error.js";

/** One request on the wire: its subject, body, key and the trace context to carry. */
export interface AttemptRequest {
  subject: string;
  body: Uint8Array;
  idempotencyKey: string;
  timeoutMs: number;
  traceContext: Context;
  /** 1 for the first attempt; recorded on the error. */
  attempt: number;
}

/** A stored outcome, or the error that kept this attempt from getting one. */
export type AttemptOutcome = { reply: StoredReply } | { error: CommandRequestError };

/** Sends one request and turns whatever happens into an outcome; never throws. */
export async function sendAttempt(nc: NatsConnection, request: AttemptRequest): Promise<AttemptOutcome> {
  const h = natsHeaders();
  h.set(IDEMPOTENCY_KEY_HEADER, request.idempotencyKey);
  injectTraceContext(h, request.traceContext);
  let msg: Msg;
  try {
    msg = await nc.request(request.subject, request.body, { headers: h, timeout: request.timeoutMs });
  } catch (err) {
    return { error: transportError(err, request) };
  }
  return decodeReply(msg, request);
}

function isNoResponders(err: unknown): boolean {
  if (err instanceof NoRespondersError) return true;
  if (err instanceof RequestError) return err.isNoResponders();
  return (err as { name?: string })?.name === "NoResponders";
}

/** A NATS failure as the client's error code. */
function transportError(err: unknown, request: AttemptRequest): CommandRequestError {
  const common = { idempotencyKey: request.idempotencyKey, attempts: request.attempt, cause: err };
  if (err instanceof TimeoutError || (err as { name?: string })?.name === "TimeoutError") {
    return new CommandRequestError("timeout", `no reply on ${request.subject} within ${request.timeoutMs} ms`, common);
  }
  if (isNoResponders(err)) {
    return new CommandRequestError("no_responders", `no worker serves ${request.subject} (no responders)`, common);
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new CommandRequestError("request_failed", `request on ${request.subject} failed: ${reason}`, common);
}

/** Reads a Herald reply; anything else becomes `invalid_reply`. */
export function decodeReply(msg: Msg, request: Pick<AttemptRequest, "subject" | "idempotencyKey" | "attempt">): AttemptOutcome {
  const common = { idempotencyKey: request.idempotencyKey, attempts: request.attempt };
  let body: unknown;
  try {
    body = msg.json();
  } catch (err) {
    return { error: new CommandRequestError("invalid_reply", `the reply on ${request.subject} is not JSON`, { ...common, cause: err }) };
  }
  const reply = body as { status?: unknown; error?: { code?: unknown; message?: unknown; details?: unknown } };
  if (reply?.status === "committed" || reply?.status === "rejected") return { reply: body as StoredReply };
  if (reply?.status === "error" && typeof reply.error?.code === "string") {
    const header = Number(msg.headers?.get(SERVICE_ERROR_CODE_HEADER));
    const message = typeof reply.error.message === "string" ? reply.error.message : reply.error.code;
    return {
      error: new CommandRequestError(reply.error.code, message, {
        ...common,
        ...(Number.isInteger(header) && header > 0 ? { status: header } : {}),
        details: reply.error.details,
      }),
    };
  }
  return { error: new CommandRequestError("invalid_reply", `the reply on ${request.subject} is not a Herald reply`, common) };
}
