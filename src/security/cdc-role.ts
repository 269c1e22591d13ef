import { cdcWildcard, defaultCdcStreamName } from "../cdc/change-message.js";
import type { DialectName } from "../db/connection.js";
import type { AuditDomain, Finding } from "./audit.js";
import { assertDomainName, assertJetStreamName, assertRoleName, quoteIdent, quoteLiteral } from "./naming.js";
import type { NatsRole } from "./nats-permissions.js";
import type { NatsUser } from "./nats-users.js";
import { reaches } from "./subject-patterns.js";

/**
 * The CDC bridge's role: one NATS user and one database role per domain,
 * `herald_<domain>_cdc`. On NATS it publishes only its own `<domain>.cdc.>`
 * subjects (and manages its own stream); in the database it reads the watched
 * tables and nothing else.
 */
export const cdcUser = (domain: string): string => `herald_${domain}_cdc`;

/** The NATS authorization of a domain's CDC bridge. */
export function cdcNatsRole(options: { domain: string; stream?: string }): NatsRole {
  const domain = assertDomainName(options.domain);
  const stream = assertJetStreamName("stream", options.stream ?? defaultCdcStreamName(domain));
  return {
    role: "cdc",
    user: cdcUser(domain),
    description: `publishes row changes on ${cdcWildcard(domain)} into ${stream}`,
    publish: { allow: [cdcWildcard(domain), "$JS.API.INFO", `$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`] },
    // PubAcks and stream lookups answer on its inbox.
    subscribe: { allow: ["_INBOX.>"] },
    allowResponses: false,
  };
}

export interface CdcGrantsOptions {
  domain: string;
  /** Tables the bridge watches. Required, at least one. */
  tables: readonly string[];
  /** Default `cockroachdb`. */
  dialect?: DialectName;
  /** Default `herald_<domain>_cdc`. */
  role?: string;
}

/**
 * SQL creating the bridge's database role. PostgreSQL: LOGIN REPLICATION and
 * SELECT on the watched tables (the publication is created by their owner,
 * `herald cdc setup`). CockroachDB: the CHANGEFEED privilege on each table
 * (`GRANT CHANGEFEED ON TABLE ...`, CockroachDB docs, CREATE CHANGEFEED,
 * "Required privileges", v22.2 and later) and SELECT.
 */
export function cdcGrantsSql(options: CdcGrantsOptions): string {
  const domain = assertDomainName(options.domain);
  const roleName = assertRoleName(options.role ?? cdcUser(domain));
  if (options.tables.length === 0) throw new TypeError("name at least one watched table");
  const role = quoteIdent(roleName);
  const tables = options.tables.map(quoteIdent).join(", ");
  const dialect = options.dialect ?? "cockroachdb";
  const head = [`-- Database role of the CDC bridge of Herald domain "${domain}" (${dialect}). No password is set here.`];
  if (dialect === "cockroachdb") {
    return [...head, `CREATE ROLE IF NOT EXISTS ${role} WITH LOGIN;`, `GRANT CHANGEFEED, SELECT ON TABLE ${tables} TO ${role};`, ""].join("\n");
  }
  return [
    ...head,
    "DO $$",
    "BEGIN",
    `  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(roleName)}) THEN`,
    `    CREATE ROLE ${role} LOGIN REPLICATION;`,
    "  END IF;",
    "END",
    "$$;",
    `ALTER ROLE ${role} REPLICATION;`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role};`,
    `GRANT USAGE ON SCHEMA public TO ${role};`,
    `GRANT SELECT ON TABLE ${tables} TO ${role};`,
    "",
  ].join("\n");
}

/** A domain under audit with the tables its CDC bridge streams. */
export interface CdcAuditDomain extends AuditDomain {
  readonly cdcTables?: readonly string[];
}

const who = (u: NatsUser) => (u.account === "$G" ? u.name : `${u.name} (account ${u.account})`);

/**
 * CDC findings: a table owned or streamed by two domains (`two-owners`), and
 * a `<domain>.cdc.>` tree that a user other than the domain's CDC bridge may
 * publish (`cdc-foreign-publisher`).
 */
export function cdcFindings(domains: readonly CdcAuditDomain[], users: readonly NatsUser[]): Finding[] {
  const findings: Finding[] = [];
  const claims = new Map<string, Set<string>>();
  for (const d of domains) {
    for (const t of new Set([...d.tables, ...(d.cdcTables ?? [])])) claims.set(t, new Set([...(claims.get(t) ?? []), d.domain]));
  }
  for (const [table, owners] of claims) {
    if (owners.size > 1) findings.push({ kind: "two-owners", target: table, detail: `table ${table} belongs to ${[...owners].sort().join(" and ")}; a table has one owner` });
  }
  for (const d of domains) {
    const tree = cdcWildcard(d.domain);
    for (const u of users.filter((u) => reaches(u.publish, tree) && u.name !== cdcUser(d.domain))) {
      findings.push({ kind: "cdc-foreign-publisher", user: who(u), target: tree, detail: `${who(u)} may publish ${tree}; only ${cdcUser(d.domain)} may` });
    }
  }
  return findings;
}
