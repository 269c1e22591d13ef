import { isDeepStrictEqual } from "node:util";
import { ERROR_STATUS, type ErrorCode } from "../../src/errors.js";
import type { BadRequest } from "./plan.js";
import type { Outcome } from "./send.js";
import type { ValidOp } from "./valid.js";

/**
 * Per-request checks. Each returns undefined when the reply is right, or a
 * one-line reason; the runner collects reasons instead of stopping at the first.
 */

const EVENT_OF: Record<string, string> = { open_account: "account_opened", deposit: "deposited", transfer: "transferred" };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const show = (o: Outcome) => `${o.label} ${JSON.stringify(o.body ?? o.detail ?? "").slice(0, 300)}`;

/** An `error` reply of the protocol's shape, with one of `codes`, a message and matching micro headers. */
export function checkErrorReply(o: Outcome, codes: readonly string[]): string | undefined {
  const body = o.body;
  if (!body || body.status !== "error") return `expected error ${codes.join("|")}, got ${show(o)}`;
  const code = body.error?.code as string;
  if (!codes.includes(code)) return `expected ${codes.join("|")}, got ${show(o)}`;
  if (!(code in ERROR_STATUS)) return `code ${code} is not in the protocol's table`;
  const keys = Object.keys(body).sort().join(",");
  if (keys !== "error,status") return `error reply has fields ${keys}`;
  const message = body.error.message;
  if (typeof message !== "string" || message.length === 0) return `error without a message: ${show(o)}`;
  if (o.statusHeader !== String(ERROR_STATUS[code as ErrorCode])) return `Nats-Service-Error-Code ${o.statusHeader} for ${code}`;
  const expectedHeader = message.replace(/[\r\n]+/g, " ").slice(0, 1024).trim();
  if (o.errorHeader !== expectedHeader) return `Nats-Service-Error ${JSON.stringify(o.errorHeader)} is not the message`;
  const details = body.error.details;
  if (code === "overloaded") {
    // The worker's hint of how long to wait before retrying.
    const hint = details?.retryAfterMs;
    if (!Number.isInteger(hint) || hint < 10 || hint > 5000 || Object.keys(details).length !== 1) return `overloaded without a retryAfterMs in [10, 5000]: ${show(o)}`;
  } else if (details !== undefined) {
    if (!Array.isArray(details)) return "details is not an array";
    for (const d of details) {
      if (!Array.isArray(d?.path) || typeof d.message !== "string" || typeof d.code !== "string") return `malformed detail ${JSON.stringify(d).slice(0, 200)}`;
    }
  }
  return undefined;
}

/** A valid request got exactly the result the model predicted. */
export function checkValid(domain: string, op: ValidOp, o: Outcome): string | undefined {
  const body = o.body;
  const expect = op.expect;
  if (!body || body.status !== expect.status) return `valid ${op.command} #${op.index}: expected ${expect.status}, got ${show(o)}`;
  if (body.duplicate !== false) return `valid ${op.command} #${op.index} is a duplicate: ${show(o)}`;
  if (body.idempotencyKey !== op.key) return `valid #${op.index}: idempotencyKey ${body.idempotencyKey}`;
  if (typeof body.commandId !== "string" || !UUID.test(body.commandId)) return `valid #${op.index}: commandId ${body.commandId}`;
  if (expect.status === "rejected") {
    if (body.error?.code !== expect.code) return `valid #${op.index}: expected rejection ${expect.code}, got ${show(o)}`;
    return o.statusHeader === "422" ? undefined : `rejection with Nats-Service-Error-Code ${o.statusHeader}`;
  }
  if (!isDeepStrictEqual(body.result, expect.result)) {
    return `valid ${op.command} #${op.index}: result ${JSON.stringify(body.result)}, expected ${JSON.stringify(expect.result)}`;
  }
  const events = body.events as Array<{ id: string; subject: string }>;
  if (!Array.isArray(events) || events.length !== 1 || events[0]!.subject !== `${domain}.evt.${EVENT_OF[op.command]}`) {
    return `valid #${op.index}: events ${JSON.stringify(events)}`;
  }
  if (o.statusHeader !== undefined) return `committed reply with Nats-Service-Error-Code ${o.statusHeader}`;
  return undefined;
}

/** A bad request got what its expectation allows; `stored` holds the valid replies so far. */
export function checkBad(item: BadRequest, o: Outcome, stored: ReadonlyArray<Record<string, any> | undefined>): string | undefined {
  const where = `#${item.index} ${item.kind} (${item.tail})`;
  const e = item.expect;
  let problem: string | undefined;
  if (e.type === "error") problem = checkErrorReply(o, e.codes);
  else if (e.type === "no_responders") problem = o.label === "no_responders" ? undefined : `expected no responders, got ${show(o)}`;
  else if (e.type === "rejected") {
    const b = o.body;
    if (!b || b.status !== "rejected" || b.duplicate !== false || b.error?.code !== e.code || b.idempotencyKey !== e.key) {
      problem = `expected a stored rejection ${e.code}, got ${show(o)}`;
    }
  } else {
    const original = stored[e.of];
    if (!original) problem = `replay of #${e.of} before its reply was recorded`;
    else if (!o.body || o.body.duplicate !== true || !isDeepStrictEqual({ ...o.body, duplicate: false }, original)) {
      problem = `expected the replay of ${JSON.stringify(original).slice(0, 200)}, got ${show(o)}`;
    }
  }
  return problem && `${where}: ${problem}`;
}
