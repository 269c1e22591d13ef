import { randomUUID } from "node:crypto";
import type { AnyCommand } from "../commands/define-command.js";
import { checkInput } from "../commands/check-input.js";
import { isValidIdempotencyKey } from "../protocol/headers.js";
import { CommandRequestError } from "./request-error.js";

const encoder = new TextEncoder();

/** A fresh key, or the caller's after the same check a worker makes (nothing is sent if it fails). */
export function checkedKey(key: string | undefined): string {
  if (key === undefined) return randomUUID();
  if (key === "") throw new CommandRequestError("missing_idempotency_key", "the idempotency key is empty");
  if (!isValidIdempotencyKey(key)) {
    throw new CommandRequestError("invalid_idempotency_key", "Idempotency-Key must be 1-255 visible ASCII characters", { idempotencyKey: key });
  }
  return key;
}

/** JSON text of a value; a value JSON cannot carry (BigInt, cycles) is refused as the worker would refuse the text. */
export function toJson(value: unknown, key: string): string {
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text;
  } catch (err) {
    throw new CommandRequestError("invalid_json", `the input cannot be encoded as JSON: ${(err as Error).message}`, { idempotencyKey: key, cause: err });
  }
  throw new CommandRequestError("invalid_json", "the input cannot be encoded as JSON", { idempotencyKey: key });
}

/**
 * Encodes a command's input and validates it as the worker will: the JSON
 * round-trip first (the worker sees JSON, not the caller's objects), then the
 * command's schema. A failure throws the worker's `invalid_command` error shape
 * and nothing is sent.
 */
export function encodeCommandInput(command: AnyCommand, input: unknown, key: string): Uint8Array {
  const text = toJson(input, key);
  const payload: unknown = JSON.parse(text);
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw new CommandRequestError("invalid_command", "body must be a JSON object", {
      idempotencyKey: key,
      details: [{ path: [], message: "expected a JSON object", code: "invalid_type" }],
    });
  }
  const parsed = checkInput(command.input, payload);
  if (!parsed.ok) {
    throw new CommandRequestError("invalid_command", `invalid ${command.name} command`, {
      idempotencyKey: key,
      details: parsed.issues,
    });
  }
  return encoder.encode(text);
}

/** Encodes a body for `sendRaw`: JSON text is sent as given, anything else as its JSON. */
export function encodeRawBody(json: string | Uint8Array | object, key: string): Uint8Array {
  if (typeof json === "string") return encoder.encode(json);
  if (json instanceof Uint8Array) return json;
  return encoder.encode(toJson(json, key));
}
