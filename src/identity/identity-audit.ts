import { decode, type Account, type SigningKey } from "@nats-io/jwt";
import type { Finding } from "../security/audit.js";
import type { DatabaseGrants } from "../security/db-grants.js";
import type { NatsUser } from "../security/nats-users.js";
import { isDomainDiscovery } from "../protocol/services.js";
import { domainStreams } from "../protocol/streams.js";
import { templateOf, type IdentityManifest } from "./nats-account.js";
import type { RolePolicy } from "./policy.js";
import { natsRoleFor, parseRole, roleUserName, type HeraldRoleName } from "./roles.js";

/** A role's signing key as the account JWT holds it. */
export interface ScopedRole {
  domain: string;
  role: HeraldRoleName;
  key: string;
  template: SigningKey["template"];
}

/** The scoped signing keys of an account JWT, matched to the manifest's (domain, role) names. */
export function scopedRolesOf(manifest: IdentityManifest, accountJwt: string): ScopedRole[] {
  const claims = decode<Account>(accountJwt.trim());
  const keys = (claims.nats.signing_keys ?? []).filter((k): k is SigningKey => typeof k === "object" && k.kind === "user_scope");
  return Object.entries(manifest.signingKeys).flatMap(([name, pub]) => {
    const [domain, role] = name.split("/") as [string, string];
    const found = keys.find((k) => k.key === pub);
    return [{ domain, role: parseRole(role), key: pub, template: found?.template ?? {} }];
  });
}

/** The scoped templates as NATS users named like `herald permissions` users, for the existing audit. */
export function usersOfScopedRoles(roles: readonly ScopedRole[], account: string): NatsUser[] {
  return roles.map((r) => ({
    name: roleUserName(r.domain, r.role),
    account,
    publish: { allow: [...(r.template.pub?.allow ?? [])], ...(r.template.pub?.deny?.length ? { deny: [...r.template.pub.deny] } : {}) },
    subscribe: { allow: [...(r.template.sub?.allow ?? [])], ...(r.template.sub?.deny?.length ? { deny: [...r.template.sub.deny] } : {}) },
    // nats-server reads any `resp` as allow_responses (zeros mean its defaults).
    allowResponses: r.template.resp !== undefined,
  }));
}

const sameList = (a: readonly string[] = [], b: readonly string[] = []) => a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);

/**
 * Whether a subject of a (domain's) template stays within that domain: its own
 * subject tree, its streams' JetStream API (domainStreams), `$SRV` discovery of
 * its own services (domainServices), and the shared `_INBOX.>` and `$JS.API.INFO`.
 */
export function withinDomain(subject: string, domain: string, streams: readonly string[]): boolean {
  const [s = ""] = subject.split(" ");
  if (s.startsWith(`${domain}.`) || s === "_INBOX.>" || s === "$JS.API.INFO") return true;
  if (isDomainDiscovery(s, domain)) return true;
  return s.startsWith("$JS.") && s.split(".").some((t) => streams.includes(t));
}

export interface IdentityAuditInput {
  manifest: IdentityManifest;
  accountJwt: string;
  policy?: RolePolicy;
  database: DatabaseGrants;
}

/**
 * The identity setup's own findings: signing key templates that differ from
 * the role's `herald permissions` entry (`template-drift`) or reach beyond
 * its domain (`beyond-domain`); policy roles with no signing key, or whose
 * database role is missing (`unknown-role`). The templates also go through
 * the regular audit as users (usersOfScopedRoles), which checks them against
 * the database grants.
 */
export function auditIdentity(input: IdentityAuditInput): Finding[] {
  const findings: Finding[] = [];
  const roles = scopedRolesOf(input.manifest, input.accountJwt);
  for (const r of roles) {
    const target = `${r.domain}/${r.role}`;
    const streamsOf = input.manifest.streams[r.domain] ?? {};
    const expected = templateOf(natsRoleFor(r.domain, r.role, streamsOf));
    if (!sameList(expected.pub?.allow, r.template.pub?.allow) || !sameList(expected.sub?.allow, r.template.sub?.allow) || (expected.resp !== undefined) !== (r.template.resp !== undefined)) {
      findings.push({ kind: "template-drift", user: roleUserName(r.domain, r.role), target, detail: `signing key ${r.key.slice(0, 8)}… of ${target} does not carry the permissions herald permissions gives the role` });
    }
    const streams = domainStreams(r.domain, streamsOf);
    for (const subject of [...(r.template.pub?.allow ?? []), ...(r.template.sub?.allow ?? [])]) {
      if (!withinDomain(subject, r.domain, streams)) findings.push({ kind: "beyond-domain", user: roleUserName(r.domain, r.role), target: subject, detail: `signing key of ${target} reaches ${subject}, outside domain ${r.domain}` });
    }
  }
  for (const m of input.policy?.mappings ?? []) {
    const target = `${m.domain}/${m.role}`;
    if (!input.manifest.signingKeys[target]) {
      findings.push({ kind: "unknown-role", target, detail: `the policy grants ${target} but the account has no signing key for it (herald identity init --grant ${m.domain}:${m.role})` });
    }
    // Roles with a database side of Herald's naming: the role must exist there too.
    const dbRole = m.role === "worker" || m.role === "cdc" || m.role === "operator" ? roleUserName(m.domain, m.role as HeraldRoleName) : undefined;
    if (dbRole && !input.database.roles.has(dbRole)) {
      findings.push({ kind: "unknown-role", role: dbRole, target, detail: `the policy grants ${target} but database role ${dbRole} does not exist` });
    }
  }
  return findings;
}
