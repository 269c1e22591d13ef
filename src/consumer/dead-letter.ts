import { createHash, randomUUID } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { sql, type Kysely } from "kysely";
import { toNatsHeaders } from "../messaging/nats-headers.js";
import { MSG_ID_HEADER } from "../protocol/headers.js";

/** Subject of a consumer's dead-letter notices: `<domain>.dlq.<consumer>`. */
export const deadLetterSubject = (domain: string, consumer: string): string => `${domain}.dlq.${consumer}`;

export { defaultDeadLetterStream } from "../protocol/streams.js";

/** A stable id per (consumer, event): a repeated publish is de-duplicated by the stream. */
function stableId(consumer: string, eventId: string | null, streamSeq: number): string {
  const hex = createHash("sha256").update(`${consumer}\0${eventId ?? `seq:${streamSeq}`}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** One event a consumer gave up on. Also the JSON body of the dead-letter message. */
export interface DeadLetter {
  /** The dead letter's own id (the stored row's when it already existed). */
  id: string;
  consumer: string;
  domain: string;
  /** `ce-id`, when the event had one. */
  eventId: string | null;
  subject: string;
  streamSeq: number;
  data: unknown;
  headers: Record<string, string>;
  /** The last error, one line. */
  error: string;
  /** Deliveries made, the last included. */
  deliveries: number;
}

const encoder = new TextEncoder();

/**
 * Stores the dead letter and publishes it on `<domain>.dlq.<consumer>`.
 * With a database the row is the record: storing is idempotent per (consumer,
 * event id), and the message is a notice sent at most once per call. Without
 * one the message is the only record: it is published to JetStream and this
 * throws unless a stream stored it (PubAck), so the caller NAKs instead of
 * TERMing and the event is never lost.
 */
export async function recordDeadLetter(
  db: Kysely<any> | undefined,
  nc: NatsConnection,
  letter: Omit<DeadLetter, "id">,
): Promise<DeadLetter> {
  const headers = (id: string) => toNatsHeaders({ [MSG_ID_HEADER]: id, "content-type": "application/json" });
  const subject = deadLetterSubject(letter.domain, letter.consumer);
  if (!db) {
    const dead: DeadLetter = { id: stableId(letter.consumer, letter.eventId, letter.streamSeq), ...letter };
    await jetstream(nc).publish(subject, encoder.encode(JSON.stringify(dead)), { msgID: dead.id, headers: headers(dead.id) });
    return dead;
  }
  let id: string = randomUUID();
  const { rows } = await sql<{ id: string }>`
    INSERT INTO herald_dead_letters (id, consumer, domain, event_id, subject, stream_seq, data, headers, error, deliveries)
    VALUES (${id}::UUID, ${letter.consumer}, ${letter.domain}, ${letter.eventId}, ${letter.subject}, ${letter.streamSeq},
            ${JSON.stringify(letter.data ?? null)}::JSONB, ${JSON.stringify(letter.headers)}::JSONB, ${letter.error}, ${letter.deliveries})
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING id`.execute(db);
  if (rows.length === 0 && letter.eventId !== null) {
    const existing = await sql<{ id: string }>`
      SELECT id FROM herald_dead_letters WHERE consumer = ${letter.consumer} AND event_id = ${letter.eventId}`.execute(db);
    id = existing.rows[0]?.id ?? id;
  }
  const dead: DeadLetter = { id, ...letter };
  nc.publish(subject, encoder.encode(JSON.stringify(dead)), { headers: headers(id) });
  return dead;
}
