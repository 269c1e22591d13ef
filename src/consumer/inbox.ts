import { sql, type Kysely, type Transaction } from "kysely";

/**
 * Records that `consumer` applied `eventId`, inside the handler's transaction.
 * False when the row already exists: the event was applied before (a
 * redelivery, a replay, a copy published past JetStream's duplicate window).
 * A concurrent claim by another instance blocks on the key and then either
 * finds the row or fails serialization, which `transact` retries.
 */
export async function claimInbox(tx: Transaction<any> | Kysely<any>, consumer: string, eventId: string): Promise<boolean> {
  const { rows } = await sql<{ event_id: string }>`
    INSERT INTO herald_inbox (consumer, event_id) VALUES (${consumer}, ${eventId}::UUID)
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING event_id`.execute(tx);
  return rows.length > 0;
}

