import type { Insertable, Kysely, Transaction } from "kysely";
import { CommandError } from "../errors.js";
import type { CommandsTable, HeraldTables } from "../db/schema.js";
import type { StoredReply } from "../protocol/replies.js";

/** Everything known about a command before its handler runs. */
export interface CommandClaim {
  id: string;
  domain: string;
  idempotencyKey: string;
  subject: string;
  command: string;
  payload: unknown;
  fingerprint: string;
  receivedAt: Date;
  attempt: number;
  traceId: string | undefined;
  spanId: string | undefined;
  /** How long the key is kept, in hours. */
  retentionHours: number;
}

/** A command already stored under a key. */
export interface StoredCommand {
  id: string;
  subject: string;
  payload_hash: string;
  status: "pending" | "committed" | "rejected";
  reply: unknown;
}

type Tx = Transaction<HeraldTables> | Kysely<HeraldTables>;

/**
 * The row that claims a key (`pending`, for the batched claim; a lone command
 * stores it finished, see recordCommandAndCommit). Whoever inserts it owns the key: a
 * concurrent inserter waits on the row and then fails serialization.
 */
export function claimRow(claim: CommandClaim): Insertable<CommandsTable> {
  return {
    id: claim.id,
    domain: claim.domain,
    idempotency_key: claim.idempotencyKey,
    subject: claim.subject,
    command: claim.command,
    payload: JSON.stringify(claim.payload),
    payload_hash: claim.fingerprint,
    status: "pending",
    received_at: claim.receivedAt,
    attempts: claim.attempt,
    trace_id: claim.traceId ?? null,
    span_id: claim.spanId ?? null,
    expires_at: new Date(claim.receivedAt.getTime() + claim.retentionHours * 3_600_000),
  };
}

/** The command stored under (domain, key), if any. */
export async function findCommand(db: Tx, domain: string, idempotencyKey: string): Promise<StoredCommand | undefined> {
  return db
    .selectFrom("herald_commands")
    .select(["id", "subject", "payload_hash", "status", "reply"])
    .where("domain", "=", domain)
    .where("idempotency_key", "=", idempotencyKey)
    .executeTakeFirst();
}

/**
 * Answer for a key that is already stored: its reply again (marked duplicate) when
 * the request is the same, 409 when the key was reused for something else.
 */
export function replayStored(existing: StoredCommand, subject: string, fingerprint: string): StoredReply {
  if (existing.subject !== subject || existing.payload_hash !== fingerprint) {
    throw new CommandError(
      "idempotency_key_reused",
      existing.subject !== subject
        ? `this Idempotency-Key was already used for ${existing.subject}`
        : "this Idempotency-Key was already used with a different payload",
    );
  }
  if (existing.status === "pending" || existing.reply === null) {
    // Never visible outside the claiming transaction; seeing it means a bug, not a race.
    throw new CommandError("internal", "stored command has no outcome");
  }
  return { ...(existing.reply as StoredReply), duplicate: true };
}
