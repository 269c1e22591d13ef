import { isSegment } from "../protocol/subjects.js";

/**
 * Names shared by the NATS and database sides of a domain's deployment, and
 * the checks every name passes before it reaches a config file or SQL text.
 * Convention: the NATS user and the database role of a domain's worker are
 * both `herald_<domain>_worker`; the audit maps one to the other by name.
 */

/** Database role names Herald writes: lowercase, start with a letter or `_`, at most 63 bytes. */
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** JetStream stream and durable names: no dots, wildcards or whitespace. */
const JETSTREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A name that cannot be used; the message says which and why, never echoing more than it must. */
export class InvalidNameError extends TypeError {
  override readonly name = "InvalidNameError";
}

/** Shows a refused value safely: quoted, control characters escaped, cut short. */
function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

export function assertDomainName(value: string): string {
  if (!isSegment(value)) throw new InvalidNameError(`domain ${shown(value)} must be 1-64 characters of lowercase a-z, 0-9 and _`);
  return value;
}

export function assertRoleName(value: string): string {
  if (!ROLE_NAME.test(value)) {
    throw new InvalidNameError(`role ${shown(value)} must be 1-63 characters of lowercase a-z, 0-9 and _, not starting with a digit`);
  }
  return value;
}

/** Stream or durable consumer name. */
export function assertJetStreamName(kind: "stream" | "consumer", value: string): string {
  if (!JETSTREAM_NAME.test(value)) throw new InvalidNameError(`${kind} ${shown(value)} must be 1-64 characters of A-Z, a-z, 0-9, _ and -`);
  return value;
}

/** NATS user and database role of a domain's workers. */
export const workerUser = (domain: string): string => `herald_${domain}_worker`;
/** NATS user of the services that send a domain's commands. */
export const clientUser = (domain: string): string => `herald_${domain}_client`;
/** NATS user of one event consumer (its durable) of a domain. */
export const consumerUser = (domain: string, durable: string): string => `herald_${domain}_consumer_${durable}`;
/** Durable name used when `herald permissions` is given no `--consumer`. */
export const DEFAULT_DURABLE = "reader";

/** The domain a worker user or role name belongs to by convention, if it follows it. */
export function domainOfWorker(name: string): string | undefined {
  const match = /^herald_([a-z0-9_]{1,64})_worker$/.exec(name);
  return match && isSegment(match[1]!) ? match[1] : undefined;
}

/** A SQL identifier, always double-quoted so reserved words and odd names are safe. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes("\u0000")) throw new InvalidNameError("identifier must be non-empty and free of NUL");
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal (standard_conforming_strings, the default on both servers). */
export function quoteLiteral(value: string): string {
  if (value.includes("\u0000")) throw new InvalidNameError("literal must be free of NUL");
  return `'${value.replaceAll("'", "''")}'`;
}
