import { cdcFindings } from "./cdc-role.js";
import { consoleUser } from "./console-role.js";
import { WORKER_PRIVILEGES } from "./grants.js";
import type { DatabaseGrants } from "./db-grants.js";
import { domainOfWorker } from "./naming.js";
import type { NatsUser } from "./nats-users.js";
import { isUnscoped, reaches, type SubjectRule } from "./subject-patterns.js";

/**
 * Compares who may do what on NATS with what the database lets the same names
 * do, domain by domain. A NATS user and a database role are the same party
 * when they have the same name (`herald_<domain>_worker` on both sides).
 */

export type FindingKind =
  /** A user may publish a domain's events but its database role cannot write the domain's tables. */
  | "events-without-grants"
  /** A worker role holds grants on tables of another domain (or of none it owns). */
  | "foreign-grants"
  /** Two users may publish one domain's events (or take its commands) in one account. */
  | "two-owners"
  /** A permission starting with a wildcard (`>`, `*.>`), or none at all: every domain is reachable. */
  | "unscoped-wildcard"
  /** No user may publish the domain's events: its workers cannot work. */
  | "no-worker"
  /** A user other than the domain's CDC bridge may publish its `<domain>.cdc.>` tree. */
  | "cdc-foreign-publisher"
  /** A scoped signing key's template differs from what `herald permissions` gives its role (src/identity). */
  | "template-drift"
  /** The identity policy names a role with no signing key, or whose database role is missing. */
  | "unknown-role"
  /** A signing key's template reaches subjects outside its domain. */
  | "beyond-domain";

export interface Finding {
  readonly kind: FindingKind;
  readonly user?: string;
  readonly role?: string;
  /** Subject pattern or table concerned. */
  readonly target: string;
  readonly detail: string;
}

/** A domain under audit and the tables it owns (from its app's migrations). */
export interface AuditDomain {
  readonly domain: string;
  readonly tables: readonly string[];
  /** Tables the domain's CDC bridge streams (src/security/cdc-role.ts). Default none. */
  readonly cdcTables?: readonly string[];
}

export interface AuditInput {
  readonly domains: readonly AuditDomain[];
  /** Herald's shared tables, which every worker may use. */
  readonly heraldTables: readonly string[];
  readonly users: readonly NatsUser[];
  readonly database: DatabaseGrants;
}

const who = (u: NatsUser) => (u.account === "$G" ? u.name : `${u.name} (account ${u.account})`);

function unscoped(users: readonly NatsUser[]): Finding[] {
  const findings: Finding[] = [];
  for (const u of users) {
    for (const [direction, rule] of [["publish", u.publish], ["subscribe", u.subscribe]] as [string, SubjectRule][]) {
      if (!rule.allow) {
        findings.push({ kind: "unscoped-wildcard", user: who(u), target: ">", detail: `no ${direction} allow list: may ${direction} on every subject` });
        continue;
      }
      for (const entry of rule.allow.filter(isUnscoped)) {
        findings.push({ kind: "unscoped-wildcard", user: who(u), target: entry, detail: `${direction} allowance reaches every domain` });
      }
    }
  }
  return findings;
}

function byAccount(users: readonly NatsUser[]): NatsUser[][] {
  const groups = new Map<string, NatsUser[]>();
  for (const u of users) groups.set(u.account, [...(groups.get(u.account) ?? []), u]);
  return [...groups.values()];
}

/**
 * Which domain owns each table: its app's migrations say so, or else the
 * longest domain name `d` (audited, or known from a worker's name) with the
 * table named `d_...`. Herald's shared tables belong to none.
 */
function tableOwners(input: AuditInput): Map<string, Set<string>> {
  const owners = new Map(input.domains.map((d) => [d.domain, new Set(d.tables)]));
  for (const name of [...input.database.roles, ...input.users.map((u) => u.name)]) {
    const d = domainOfWorker(name);
    if (d && !owners.has(d)) owners.set(d, new Set());
  }
  const byLength = [...owners.keys()].sort((a, b) => b.length - a.length);
  const claimed = new Set([...input.heraldTables, ...input.domains.flatMap((d) => d.tables)]);
  for (const table of input.database.tables.filter((t) => !claimed.has(t))) {
    const d = byLength.find((name) => table.startsWith(`${name}_`));
    if (d) owners.get(d)!.add(table);
  }
  return owners;
}

function missingWrites(u: NatsUser, domain: string, tables: readonly string[], database: DatabaseGrants): Finding[] {
  const role = u.name;
  const subject = `${domain}.evt.>`;
  if (!database.roles.has(role)) {
    return [{ kind: "events-without-grants", user: who(u), role, target: subject, detail: `may publish ${subject} but database role ${role} does not exist` }];
  }
  const held = database.grants.get(role);
  return tables.flatMap((table) => {
    const missing = WORKER_PRIVILEGES.filter((p) => !held?.get(table)?.has(p));
    return missing.length
      ? [{ kind: "events-without-grants" as const, user: who(u), role, target: table, detail: `may publish ${subject} but lacks ${missing.join(", ")} on ${table}` }]
      : [];
  });
}

function foreignGrants(input: AuditInput, owners: Map<string, Set<string>>): Finding[] {
  const findings: Finding[] = [];
  const shared = new Set(input.heraldTables);
  const audited = new Set(input.domains.map((d) => d.domain));
  for (const [role, tables] of input.database.grants) {
    const domain = domainOfWorker(role);
    if (!domain) continue;
    for (const [table, privileges] of tables) {
      if (shared.has(table) || privileges.size === 0 || owners.get(domain)?.has(table)) continue;
      const owner = [...owners].find(([, t]) => t.has(table))?.[0];
      // Roles of domains not under audit are only held to tables known to be another's.
      if (!audited.has(domain) && !owner) continue;
      findings.push({
        kind: "foreign-grants",
        role,
        target: table,
        detail: `worker of ${domain} holds ${[...privileges].sort().join(", ")} on ${table}, ${owner ? `a table of domain ${owner}` : `which is not ${domain}'s`}`,
      });
    }
  }
  return findings;
}

/** Every disagreement between NATS permissions, database grants and the domains' registries. */
export function auditSecurity(input: AuditInput): Finding[] {
  const findings: Finding[] = [...unscoped(input.users)];
  const owners = tableOwners(input);
  for (const { domain } of input.domains) {
    const events = `${domain}.evt.>`;
    const commands = `${domain}.cmd.>`;
    // The console's operator user republishes events (redrive, replay) by design; it is not a worker.
    const publishers = input.users.filter((u) => reaches(u.publish, events) && u.name !== consoleUser(domain));
    if (publishers.length === 0) {
      findings.push({ kind: "no-worker", target: events, detail: `no NATS user may publish ${events}: ${domain}'s workers cannot publish events` });
    }
    const required = [...input.heraldTables, ...owners.get(domain)!];
    for (const u of publishers) findings.push(...missingWrites(u, domain, required, input.database));
    for (const [tree, users, verb] of [
      [events, publishers, "publish"],
      [commands, input.users.filter((u) => reaches(u.subscribe, commands)), "subscribe to"],
    ] as const) {
      for (const group of byAccount(users).filter((g) => g.length > 1)) {
        findings.push({ kind: "two-owners", user: group.map(who).join(", "), target: tree, detail: `${group.length} users may ${verb} ${tree}; one domain has one owner` });
      }
    }
  }
  findings.push(...foreignGrants(input, owners));
  findings.push(...cdcFindings(input.domains, input.users));
  return findings;
}
