import {
  DEFAULT_DEAD_LETTER_RETENTION_HOURS,
  DEFAULT_EVENT_RETENTION_HOURS,
  DEFAULT_IDENTITY_RETENTION_HOURS,
  DEFAULT_INBOX_RETENTION_HOURS,
  DEFAULT_OPERATOR_ACTION_RETENTION_HOURS,
} from "./prune.js";

export interface RowTtlOptions {
  /** Hours a published event is kept. Default 168. */
  eventRetentionHours?: number;
  /** Hours an inbox row is kept. Default 720. */
  inboxRetentionHours?: number;
  /** Hours a dead letter, or a reactor's recorded rejection, is kept. Default 720. */
  deadLetterRetentionHours?: number;
  /** Hours a recorded operator action is kept. Default 8760. */
  operatorActionRetentionHours?: number;
  /** Hours an identity issuance record is kept after it expired. Default 2160. */
  identityRetentionHours?: number;
  /** When CockroachDB's TTL job runs (cron). Default `@hourly`. */
  cron?: string;
}

function hours(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new TypeError(`${name} must be a positive whole number of hours, got ${String(value)}`);
  return v;
}

const CRON = /^(@(hourly|daily|weekly|monthly|yearly)|[0-9*/,\- ]{9,64})$/;

/**
 * CockroachDB row-level TTL (v22.2 and later: `ttl_expiration_expression`) for
 * every growing Herald table, the native alternative to the prune loop. An
 * expression that is NULL never compares as expired, which keeps unpublished
 * events. One gap the prune loop does not have: the commands' expression cannot
 * look at the outbox, so a command whose events stayed unpublished past its
 * expiry (a relay down for the whole retention) would be deleted with them.
 */
export function rowLevelTtlStatements(options: RowTtlOptions = {}): string[] {
  const cron = options.cron ?? "@hourly";
  if (!CRON.test(cron)) throw new TypeError(`cron must be a cron expression or @hourly/@daily, got "${cron}"`);
  const events = hours("event retention", options.eventRetentionHours, DEFAULT_EVENT_RETENTION_HOURS);
  const inbox = hours("inbox retention", options.inboxRetentionHours, DEFAULT_INBOX_RETENTION_HOURS);
  const dead = hours("dead-letter retention", options.deadLetterRetentionHours, DEFAULT_DEAD_LETTER_RETENTION_HOURS);
  const actions = hours("operator action retention", options.operatorActionRetentionHours, DEFAULT_OPERATOR_ACTION_RETENTION_HOURS);
  const identity = hours("identity retention", options.identityRetentionHours, DEFAULT_IDENTITY_RETENTION_HOURS);
  const ttl = (table: string, expression: string) =>
    `ALTER TABLE ${table} SET (ttl_expiration_expression = '${expression.replaceAll("'", "''")}', ttl_job_cron = '${cron}');`;
  return [
    ttl("herald_outbox", `published_at + INTERVAL '${events} hours'`),
    ttl("herald_commands", "expires_at"),
    ttl("herald_inbox", `processed_at + INTERVAL '${inbox} hours'`),
    ttl("herald_dead_letters", `created_at + INTERVAL '${dead} hours'`),
    ttl("herald_identity_issuances", `expires_at + INTERVAL '${identity} hours'`),
    ttl("herald_operator_actions", `at + INTERVAL '${actions} hours'`),
    ttl("herald_reactor_rejections", `created_at + INTERVAL '${dead} hours'`),
  ];
}
