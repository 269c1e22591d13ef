import { CommandError } from "../errors.js";
import { isValidIdempotencyKey } from "../protocol/headers.js";
import { requestFingerprint } from "../idempotency/fingerprint.js";
import type { AnyCommand } from "./define-command.js";
import { checkInput } from "./check-input.js";

export { issuesToDetails } from "./check-input.js";

/** A request that passed every check and may be persisted. */
export interface ParsedRequest {
  idempotencyKey: string;
  /** The body as parsed JSON (what is stored and fingerprinted). */
  payload: Record<string, unknown>;
  /** The body after the command's schema (what the handler gets). */
  input: unknown;
  fingerprint: string;
}

export interface RawRequest {
  subject: string;
  body: Uint8Array;
  idempotencyKey: string | undefined;
  /** A header problem found by the transport, reported in the protocol's order (after size). */
  headerError?: CommandError | undefined;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const okString = (s: string): boolean => !s.includes("\u0000") && !LONE_SURROGATE.test(s);

/** True when every key and string can be stored as JSONB. Runs after the schema, so depth is bounded. */
function storable(value: unknown): boolean {
  if (typeof value === "string") return okString(value);
  if (value === null || typeof value !== "object") return true;
  if (Array.isArray(value)) return value.every(storable);
  return Object.entries(value).every(([k, v]) => okString(k) && storable(v));
}

/**
 * Checks a raw request in the protocol's order (size, key, UTF-8/JSON, schema)
 * and throws a CommandError for the first failure. Pure: touches nothing.
 */
export function parseRequest(command: AnyCommand, request: RawRequest, maxPayloadBytes: number): ParsedRequest {
  if (request.body.byteLength > maxPayloadBytes) {
    throw new CommandError("payload_too_large", `body is ${request.body.byteLength} bytes; the limit is ${maxPayloadBytes}`);
  }
  if (request.headerError) throw request.headerError;
  const key = request.idempotencyKey;
  if (key === undefined || key === "") {
    throw new CommandError("missing_idempotency_key", "the Idempotency-Key header is required");
  }
  if (!isValidIdempotencyKey(key)) {
    throw new CommandError("invalid_idempotency_key", "Idempotency-Key must be 1-255 visible ASCII characters");
  }
  let text: string;
  try {
    text = decoder.decode(request.body);
  } catch {
    throw new CommandError("invalid_json", "body is not valid UTF-8");
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    // The parser's message quotes the body; echo only where it failed, not the content.
    const where = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new CommandError("invalid_json", where ? `body is not valid JSON (at position ${where})` : "body is not valid JSON", { cause: err });
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw new CommandError("invalid_command", "body must be a JSON object", {
      details: [{ path: [], message: "expected a JSON object", code: "invalid_type" }],
    });
  }
  const parsed = checkInput(command.input, payload);
  if (!parsed.ok) {
    throw new CommandError("invalid_command", `invalid ${command.name} command`, { details: parsed.issues });
  }
  if (!storable(payload)) {
    // JSONB (PostgreSQL and CockroachDB) refuses these; refusing here keeps it a 400, not a 500.
    throw new CommandError("invalid_command", "strings may not contain U+0000 or unpaired surrogates", {
      details: [{ path: [], message: "string holds U+0000 or an unpaired surrogate", code: "invalid_string" }],
    });
  }
  let fingerprint: string;
  try {
    fingerprint = requestFingerprint(request.subject, payload);
  } catch (err) {
    // Only absurdly deep values that the schema let through get here.
    throw new CommandError("invalid_command", "body is nested too deeply", { cause: err });
  }
  return { idempotencyKey: key, payload: payload as Record<string, unknown>, input: parsed.data, fingerprint };
}
