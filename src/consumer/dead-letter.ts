import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/nats-core";
import { sql, type Kysely } from "kysely";
import { toNatsHeaders } from "../messaging/nats-headers.js";
import { MSG_ID_HEADER } from "../protocol/headers.js";

/** Subject of a consumer's dead-letter notices: `<domain>.dlq.<consumer>`. */
export const deadLetterSubject = (domain: string, consumer: string): string => `${domain}.dlq.${consumer}`;

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
 * Stores the dead letter (when there is a database) and publishes it on
 * `<domain>.dlq.<consumer>`. Storing is idempotent per (consumer, event id): a
 * crash before the event was TERMed repeats this without a second row. The
 * message goes out each time (at least once), under the row's id as `Nats-Msg-Id`.
 */
export async function recordDeadLetter(
  db: Kysely<any> | undefined,
  nc: NatsConnection,
  letter: Omit<DeadLetter, "id">,
): Promise<DeadLetter> {
  let id: string = randomUUID();
  if (db) {
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
  }
  const dead: DeadLetter = { id, ...letter };
  nc.publish(deadLetterSubject(letter.domain, letter.consumer), encoder.encode(JSON.stringify(dead)), {
    headers: toNatsHeaders({ [MSG_ID_HEADER]: id, "content-type": "application/json" }),
  });
  return dead;
}
