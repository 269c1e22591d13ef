import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Finding } from "../security/audit.js";
import type { DatabaseGrants } from "../security/db-grants.js";
import type { NatsUser } from "../security/nats-users.js";
import { auditIdentity, scopedRolesOf, usersOfScopedRoles } from "../identity/identity-audit.js";
import { readManifest } from "../identity/nats-account.js";
import { loadPolicy, PolicyError } from "../identity/policy.js";
import { CliError } from "./cli-error.js";

/** Exit code for "could not audit". */
const CANNOT_AUDIT = 2;

/** The identity setup's users (its signing key templates) and own findings, for `herald audit`. */
export async function identityAuditParts(dir: string, policyFile: string | undefined, database: DatabaseGrants): Promise<{ users: NatsUser[]; findings: Finding[] }> {
  let manifest;
  let accountJwt;
  let policy;
  try {
    manifest = await readManifest(dir);
    if (!manifest) throw new Error("no identity.json (run herald identity init)");
    accountJwt = await readFile(join(dir, "account.jwt"), "utf8");
    policy = policyFile ? await loadPolicy(policyFile) : undefined;
  } catch (err) {
    throw new CliError(err instanceof PolicyError ? err.message : `cannot read the identity setup in ${dir}: ${(err as Error).message}`, CANNOT_AUDIT);
  }
  return {
    users: usersOfScopedRoles(scopedRolesOf(manifest, accountJwt), manifest.account),
    findings: auditIdentity({ manifest, accountJwt, policy, database }),
  };
}
