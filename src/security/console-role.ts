import type { DialectName } from "../db/connection.js";
import { HERALD_IDENTITY_TABLES } from "../db/migrator.js";
import { discoveryRequests } from "../protocol/services.js";
import { defaultStreamName } from "../protocol/subjects.js";
import { assertDomainName, assertJetStreamName, assertRoleName, quoteIdent, quoteLiteral } from "./naming.js";
import type { NatsRole } from "./nats-permissions.js";

/**
 * The operator console's role: one NATS user and one database role per domain,
 * `herald_<domain>_console`. Read-only unless actions are enabled; with them it
 * may also republish the domain's events (redrive, replay) and delete what
 * redrive and prune delete. The worker never gets the operator log table.
 */
export const consoleUser = (domain: string): string => `herald_${domain}_console`;

/** Written by the console only: workers get no grant on it (`workerUsesTable`). */
export const OPERATOR_LOG_TABLE = "herald_operator_actions";

/** What the console's actions write, beyond reading everything. */
const ACTION_GRANTS: ReadonlyArray<readonly [string, string]> = [
  ["INSERT", OPERATOR_LOG_TABLE],
  // Redrive deletes the dead letter it republishes (and puts it back if the publish fails).
  ["INSERT", "herald_dead_letters"],
  // Prune: every growing table.
  ["DELETE", "herald_commands"],
  ["DELETE", "herald_outbox"],
  ["DELETE", "herald_inbox"],
  ["DELETE", "herald_dead_letters"],
  ["DELETE", OPERATOR_LOG_TABLE],
];

export interface ConsoleGrantsOptions {
  domain: string;
  /** Herald's own tables (from its migrations). Required. */
  heraldTables: readonly string[];
  /** Also the grants of the actions (redrive, replay, prune). Default false: SELECT only. */
  actions?: boolean;
  /** Default `cockroachdb`. */
  dialect?: DialectName;
  /** Default `herald_<domain>_console`. */
  role?: string;
}

/** SQL creating the console's database role: SELECT on Herald's tables (not the identity issuer's); with `actions`, the few writes they make. No password. */
export function consoleGrantsSql(options: ConsoleGrantsOptions): string {
  const domain = assertDomainName(options.domain);
  const roleName = assertRoleName(options.role ?? consoleUser(domain));
  const role = quoteIdent(roleName);
  const dialect = options.dialect ?? "cockroachdb";
  const create =
    dialect === "cockroachdb"
      ? [`CREATE ROLE IF NOT EXISTS ${role} WITH LOGIN;`]
      : ["DO $$", "BEGIN", `  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(roleName)}) THEN`, `    CREATE ROLE ${role} LOGIN;`, "  END IF;", "END", "$$;"];
  // The identity issuer's records are not the console's to read.
  const readable = options.heraldTables.filter((t) => !HERALD_IDENTITY_TABLES.includes(t));
  const known = new Set(readable);
  const writes = options.actions ? ACTION_GRANTS.filter(([, t]) => known.has(t)) : [];
  return [
    `-- Database role of the operator console of Herald domain "${domain}" (${dialect}), ${options.actions ? "with actions (redrive, replay, prune)" : "read-only"}. No password is set here.`,
    ...create,
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role};`,
    `GRANT USAGE ON SCHEMA public TO ${role};`,
    ...(readable.length ? [`GRANT SELECT ON TABLE ${readable.map(quoteIdent).join(", ")} TO ${role};`] : []),
    ...writes.map(([privilege, table]) => `GRANT ${privilege} ON TABLE ${quoteIdent(table)} TO ${role};`),
    "",
  ].join("\n");
}

/**
 * The console's NATS authorization: `$SRV` discovery of the domain's service,
 * stream and consumer info, ephemeral ordered consumers for the live view; with
 * `actions`, publishing the domain's events (redrive, replay), which the audit
 * accepts from this user only besides the worker.
 */
export function consoleNatsRole(options: { domain: string; stream?: string; actions?: boolean }): NatsRole {
  const domain = assertDomainName(options.domain);
  const stream = assertJetStreamName("stream", options.stream ?? defaultStreamName(domain));
  const api = "$JS.API";
  const discovery = discoveryRequests(domain);
  return {
    role: "console",
    user: consoleUser(domain),
    description: `reads ${stream}, its consumers and ${domain}'s workers${options.actions ? `; republishes ${domain}.evt.> (redrive, replay)` : ""}`,
    publish: {
      allow: [
        ...discovery,
        `${api}.STREAM.INFO.${stream}`,
        `${api}.CONSUMER.LIST.${stream}`,
        // Ephemeral ordered consumers of `herald events` and the live view.
        `${api}.CONSUMER.CREATE.${stream}.>`,
        `${api}.CONSUMER.INFO.${stream}.*`,
        `${api}.CONSUMER.DELETE.${stream}.*`,
        `${api}.CONSUMER.MSG.NEXT.${stream}.*`,
        ...(options.actions ? [`${domain}.evt.>`] : []),
      ],
    },
    subscribe: { allow: ["_INBOX.>"] },
    allowResponses: false,
  };
}
