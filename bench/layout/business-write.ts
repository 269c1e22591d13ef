import { sql, type Transaction } from "kysely";
import { ACCOUNTS_TABLE } from "./schema.js";

/** The handler's work, the same in both layouts: one balance update per command, one statement per batch. */
export async function businessWrite(tx: Transaction<any>, accounts: readonly number[]): Promise<void> {
  if (accounts.length === 0) return;
  await sql`UPDATE ${sql.table(ACCOUNTS_TABLE)} SET balance = balance + 1 WHERE id = ANY(${accounts}::INT[])`.execute(tx);
}
