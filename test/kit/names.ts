import { randomBytes } from "node:crypto";

/** A domain name no other test run uses, so subjects and streams never collide. */
export function uniqueDomain(prefix = "t"): string {
  return `${prefix}${randomBytes(5).toString("hex")}`;
}

/** A fresh idempotency key. */
export function uniqueKey(prefix = "k"): string {
  return `${prefix}-${randomBytes(8).toString("hex")}`;
}
