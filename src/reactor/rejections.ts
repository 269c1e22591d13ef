import { sql, type Kysely } from "kysely";
import { CommandRequestError } from "../client/request-error.js";
import type { Logger } from "../telemetry/logger.js";
import type { RejectedReply } from "../protocol/replies.js";

/** A command a reactor sent that the target domain rejected. */
export interface ReactorRejection {
  reactor: string;
  /** The event that led to the command. */
  eventId: string;
  /** The command's subject, e.g. `bank.cmd.reserve_funds`. */
  subject: string;
  idempotencyKey: string;
  reply: RejectedReply;
}

/** Records a rejection once per key (a redelivered event repeats it), or logs it without a database. */
export async function recordRejection(db: Kysely<any> | undefined, rejection: ReactorRejection, logger: Logger): Promise<void> {
  const { code, message } = rejection.reply.error;
  logger.warn({ reactor: rejection.reactor, eventId: rejection.eventId, subject: rejection.subject, code }, "reactor command rejected");
  if (!db) return;
  await sql`
    INSERT INTO herald_reactor_rejections (reactor, idempotency_key, event_id, subject, code, message)
    VALUES (${rejection.reactor}, ${rejection.idempotencyKey}, ${rejection.eventId}::UUID, ${rejection.subject}, ${code}, ${message})
    ON CONFLICT (reactor, idempotency_key) DO NOTHING`.execute(db);
}

/** A send that may succeed later with the same key: retried without counting towards maxDeliver. */
export function isTransientSendError(err: unknown): boolean {
  return err instanceof CommandRequestError && err.retryable;
}
