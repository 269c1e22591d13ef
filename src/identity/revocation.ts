import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { credsAuthenticator } from "@nats-io/nats-core";
import { readFile } from "node:fs/promises";
import type { Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { liveKeysOf, recordRevocation } from "./identity-store.js";
import { addRevocations, SYSTEM_CREDS_FILE } from "./nats-account.js";
import { assertUserPublicKey } from "./user-jwt.js";

/** The servers did not take the updated account JWT. */
export class AccountPushError extends Error {
  override readonly name = "AccountPushError";
}

/**
 * Sends an account JWT to the servers' resolver (`$SYS.REQ.CLAIMS.UPDATE`,
 * as the system account's user): they store it, and close connections of
 * users it revokes. Servers of a cluster pass it on to each other.
 */
export async function pushAccountJwt(options: { dir: string; servers: string | string[]; accountJwt: string; tls?: { caFile?: string } }): Promise<void> {
  const servers = typeof options.servers === "string" ? options.servers.split(",").map((s) => s.trim()) : options.servers;
  const creds = await readFile(join(options.dir, SYSTEM_CREDS_FILE));
  const nc = await connect({
    servers,
    name: "herald-identity",
    authenticator: credsAuthenticator(creds),
    timeout: 5000,
    ...(options.tls?.caFile ? { tls: { caFile: options.tls.caFile } } : {}),
  });
  try {
    const reply = await nc.request("$SYS.REQ.CLAIMS.UPDATE", new TextEncoder().encode(options.accountJwt), { timeout: 5000 });
    const answer = reply.json<{ data?: { code?: number; message?: string }; error?: { code?: number; description?: string } }>();
    if (answer.error || (answer.data?.code ?? 200) >= 300) {
      throw new AccountPushError(`the NATS server refused the account update: ${answer.error?.description ?? answer.data?.message ?? "no reason given"}`);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}

export interface RevokeOptions {
  dir: string;
  db: Kysely<HeraldTables>;
  /** NATS servers to push the updated account to. */
  servers: string | string[];
  /** Revoke every live key issued to this OIDC subject, and its tokens issued until now. */
  subject?: string;
  /** Revoke this user NKey. */
  key?: string;
  tls?: { caFile?: string };
}

/**
 * `herald identity revoke`: records the revocation (the issuer then refuses
 * the key for good, and the subject's tokens issued before now), adds the
 * keys to the account's revocations and pushes the account to the servers,
 * which close the live connections. Returns the keys revoked.
 */
export async function revokeIdentity(options: RevokeOptions): Promise<string[]> {
  if (Boolean(options.subject) === Boolean(options.key)) throw new TypeError("give either a subject or a key to revoke");
  const keys = options.key ? [assertUserPublicKey(options.key)] : await liveKeysOf(options.db, options.subject!);
  if (options.subject) await recordRevocation(options.db, "subject", options.subject);
  for (const key of keys) await recordRevocation(options.db, "key", key);
  const accountJwt = await addRevocations(options.dir, keys);
  await pushAccountJwt({ dir: options.dir, servers: options.servers, accountJwt, tls: options.tls });
  return keys;
}
