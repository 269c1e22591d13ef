import type { JsMsg } from "@nats-io/jetstream";
import { fromNatsHeaders } from "../messaging/nats-headers.js";
import { CE } from "../protocol/headers.js";
import type { EventSchemaMap, HeraldEvent } from "./types.js";

/** An event that can never be handled: malformed, or failing its schema. Dead-lettered at once. */
export class PoisonEventError extends Error {
  override readonly name = "PoisonEventError";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Header lookup without regard to case: other publishers may spell `ce-*` headers differently. */
function lookup(headers: Record<string, string>, name: string): string | undefined {
  if (headers[name] !== undefined) return headers[name];
  const lower = name.toLowerCase();
  const key = Object.keys(headers).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : headers[key];
}

/** The body as JSON when it is JSON, else as text; for dead letters, which must keep what arrived. */
export function rawData(msg: JsMsg): unknown {
  let text: string;
  try {
    text = utf8.decode(msg.data);
  } catch {
    return Buffer.from(msg.data).toString("base64");
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Headers of a message as a record. */
export const headersOf = (msg: JsMsg): Record<string, string> => fromNatsHeaders(msg.headers);

/** Decodes a JetStream message into a typed event; throws PoisonEventError when it cannot be handled. */
export function decodeEvent<S extends EventSchemaMap>(msg: JsMsg, schemas: S | undefined): HeraldEvent<S> {
  const headers = headersOf(msg);
  const required = (name: string): string => {
    const value = lookup(headers, name);
    if (!value) throw new PoisonEventError(`event has no ${name} header`);
    return value;
  };
  const id = required(CE.id);
  if (!UUID.test(id)) throw new PoisonEventError(`event ${CE.id} "${id.slice(0, 80)}" is not a UUID`);
  const timeText = required(CE.time);
  const time = new Date(timeText);
  if (Number.isNaN(time.getTime())) throw new PoisonEventError(`event ${id} has an invalid ${CE.time} "${timeText.slice(0, 80)}"`);

  let data: unknown;
  try {
    data = JSON.parse(utf8.decode(msg.data));
  } catch (err) {
    throw new PoisonEventError(`event ${id} body is not UTF-8 JSON: ${(err as Error).message}`);
  }
  const name = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
  if (schemas) {
    const schema = Object.hasOwn(schemas, name) ? schemas[name] : undefined;
    if (!schema) throw new PoisonEventError(`event ${id} (${name}) has no schema in this consumer`);
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ");
      throw new PoisonEventError(`event ${id} (${name}) does not match its schema: ${issues}`);
    }
    data = parsed.data;
  }
  const event = {
    id: id.toLowerCase(),
    type: required(CE.type),
    source: required(CE.source),
    time,
    subject: msg.subject,
    name,
    commandId: required(CE.commandId),
    idempotencyKey: required(CE.idempotencyKey),
    headers,
    seq: msg.seq,
    deliveryCount: msg.info.deliveryCount,
    data,
  };
  return event as unknown as HeraldEvent<S>;
}
