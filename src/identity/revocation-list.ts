import type { RevocationList } from "@nats-io/jwt";
import { MAX_LIFETIME_SECONDS } from "./policy.js";

/**
 * Slack for clocks: the revocation time is the revoking machine's, a
 * credential's expiry the issuer's, and each server checks it on its own clock.
 */
export const REVOCATION_CLOCK_SLACK_SECONDS = 5 * 60;

/**
 * The revocations that can still refuse something. An entry refuses the key's
 * user JWTs issued at or before its time; the issuer never signs one for longer
 * than MAX_LIFETIME_SECONDS, so once that (plus slack) has passed since the
 * revocation, every such JWT has expired on its own and the entry only makes
 * the account JWT bigger. Later JWTs of the key are not refused by it anyway.
 */
export function unexpiredRevocations(revocations: RevocationList, now = Math.floor(Date.now() / 1000), maxLifetimeSeconds = MAX_LIFETIME_SECONDS): RevocationList {
  const horizon = now - maxLifetimeSeconds - REVOCATION_CLOCK_SLACK_SECONDS;
  return Object.fromEntries(Object.entries(revocations).filter(([, at]) => at > horizon));
}
