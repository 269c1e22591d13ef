import type { JetStreamClient } from "@nats-io/jetstream";
import { sql, type Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { toNatsHeaders } from "../messaging/nats-headers.js";
import { MSG_ID_HEADER } from "../protocol/headers.js";
import { loadDeadLetters, type StoredDeadLetter } from "./dead-letters.js";
import { NotFoundError } from "./inputs.js";

/** Header a redriven event carries: the id of the dead letter it came from. */
export const REDRIVEN_FROM_HEADER = "herald-redriven-from";

export interface RedriveOptions {
  db: Kysely<HeraldTables>;
  js: JetStreamClient;
  domain: string;
  /** Dead letter ids (checked UUIDs), 1 to 100. */
  ids: readonly string[];
  /** The stream that must store the copies. Required. */
  stream: string;
  /** PubAck timeout per event in ms. Default 5000. */
  ackTimeoutMs?: number;
}

/** One redriven dead letter. */
export interface Redriven {
  id: string;
  consumer: string;
  eventId: string | null;
  subject: string;
  /** Stream sequence of the copy. */
  seq: number;
}

const encoder = new TextEncoder();

/**
 * Publishes each dead letter's event again on its subject, with its original
 * headers (`ce-id` included) and `Nats-Msg-Id` = `redrive-<dead letter id>`,
 * then the consumer applies it: the event was dead-lettered, so it is not in
 * that consumer's inbox, while every consumer that applied it before finds it
 * there and skips it. The row is deleted first (one statement) so a failure
 * of the redriven event records a new dead letter; if the publish fails, the
 * row is put back. A second redrive of the same id finds nothing (404).
 */
export async function redriveDeadLetters(options: RedriveOptions): Promise<Redriven[]> {
  const letters = await loadDeadLetters(options.db, options.domain, options.ids);
  const done: Redriven[] = [];
  for (const letter of letters) done.push(await redriveOne(options, letter));
  return done;
}

async function redriveOne(options: RedriveOptions, letter: StoredDeadLetter): Promise<Redriven> {
  const { numDeletedRows } = await options.db.deleteFrom("herald_dead_letters").where("id", "=", letter.id).executeTakeFirst();
  // Another operator redrove it in the meantime.
  if (Number(numDeletedRows) === 0) throw new NotFoundError(`dead letter ${letter.id} was redriven meanwhile`);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(letter.headers)) if (k.toLowerCase() !== MSG_ID_HEADER.toLowerCase()) headers[k] = v;
  headers[MSG_ID_HEADER] = `redrive-${letter.id}`;
  headers[REDRIVEN_FROM_HEADER] = letter.id;
  try {
    const ack = await options.js.publish(letter.subject, encoder.encode(JSON.stringify(letter.data ?? null)), {
      headers: toNatsHeaders(headers),
      expect: { streamName: options.stream },
      timeout: options.ackTimeoutMs ?? 5000,
    });
    return { id: letter.id, consumer: letter.consumer, eventId: letter.eventId, subject: letter.subject, seq: ack.seq };
  } catch (err) {
    await restore(options.db, letter).catch(() => undefined);
    throw new Error(`redriving dead letter ${letter.id} to ${letter.subject} failed: ${(err as Error).message}`, { cause: err });
  }
}

function restore(db: Kysely<HeraldTables>, l: StoredDeadLetter): Promise<unknown> {
  return sql`
    INSERT INTO herald_dead_letters (id, consumer, domain, event_id, subject, stream_seq, data, headers, error, deliveries, created_at)
    VALUES (${l.id}::UUID, ${l.consumer}, ${l.domain}, ${l.eventId}, ${l.subject}, ${l.streamSeq}, ${JSON.stringify(l.data ?? null)}::JSONB,
            ${JSON.stringify(l.headers)}::JSONB, ${l.error}, ${l.deliveries}, ${l.createdAt})
    ON CONFLICT (consumer, event_id) DO NOTHING`.execute(db);
}
