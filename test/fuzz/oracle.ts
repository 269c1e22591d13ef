import { bankApp } from "../../examples/bank/index.js";
import type { BodyCode } from "./bodies.js";
import type { KeyVerdict } from "./headers.js";

/**
 * What the protocol (docs/protocol.md §2, "Order of checks") says a request
 * earns: size first, then the key, then UTF-8/JSON, then the schema. Used to
 * derive the expected code of random bodies and to check that every designed
 * body really is what its generator claims.
 */

const decoder = new TextDecoder("utf-8", { fatal: true });
const schemas = new Map(bankApp.commands.map((c) => [c.name, c.input]));

/** The code a body earns with a good key, or "valid" if it would be executed. */
export function classifyBody(command: string, bytes: Uint8Array, maxPayload: number): BodyCode | "valid" {
  if (bytes.byteLength > maxPayload) return "payload_too_large";
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return "invalid_json";
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "invalid_command";
  const schema = schemas.get(command);
  if (!schema) throw new Error(`no command ${command}`);
  return schema.safeParse(value).success ? "valid" : "invalid_command";
}

/** Every acceptable error code for a request with these key readings and this body. */
export function expectedCodes(verdicts: readonly KeyVerdict[], body: BodyCode | "valid"): string[] {
  if (body === "payload_too_large") return ["payload_too_large"];
  const codes = new Set<string>();
  for (const v of verdicts) {
    if (v !== "valid") codes.add(v);
    else if (body === "valid") throw new Error("a valid key with a valid body is not a bad request");
    else codes.add(body);
  }
  return [...codes];
}
