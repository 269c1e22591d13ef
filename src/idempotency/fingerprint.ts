import { createHash } from "node:crypto";

/**
 * JSON with object keys sorted, so the same payload sent with other whitespace
 * or key order counts as the same request.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  const parts = keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${parts.join(",")}}`;
}

/** What "same request" means for idempotency: the subject plus the canonical payload. */
export function requestFingerprint(subject: string, payload: unknown): string {
  return createHash("sha256").update(subject).update("\n").update(canonicalJson(payload)).digest("base64url");
}
