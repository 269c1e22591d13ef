/**
 * One transfer, as a competent team would hand-write it with pg: one
 * SERIALIZABLE transaction that claims the idempotency key, moves the money,
 * writes the outbox row and stores the reply; the whole transaction re-runs on
 * 40001. The pool's connections are pipelined (pg's `pipeline` option), so
 * statements that do not need each other's answers share a round trip.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";

export interface TransferInput {
  from: string;
  to: string;
  amount: number;
}

export interface GlueEvent {
  id: string;
  subject: string;
  data: TransferInput;
}

export type GlueReply =
  | { status: "committed"; commandId: string; idempotencyKey: string; duplicate: boolean; result: unknown; events: { id: string; subject: string }[]; committedAt: string }
  | { status: "rejected"; commandId: string; idempotencyKey: string; duplicate: boolean; error: { code: string; message: string } }
  | { status: "error"; error: { code: string; message: string } };

export interface GlueStats {
  retries: number;
}

const MAX_ATTEMPTS = 20;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Full jitter, 2 ms doubling to 250 ms: the same policy as Herald's defaults. */
const backoffMs = (attempt: number) => Math.random() * Math.min(250, 2 * 2 ** (attempt - 1));
const retryable = (err: unknown) => ["40001", "40P01"].includes((err as { code?: string }).code ?? "");

/** Replays a stored outcome, or refuses a key reused for another request. */
function replay(row: { request_hash: string; reply: GlueReply }, hash: string): GlueReply {
  if (row.request_hash !== hash) return { status: "error", error: { code: "idempotency_key_reused", message: "key already used for another request" } };
  return { ...row.reply, duplicate: true } as GlueReply;
}

/**
 * Statements that do not wait for each other's results, sent together on the
 * pipelined connection (one round trip); every one is awaited before the
 * first error is thrown, so the connection is idle again when it goes back.
 */
async function together(client: pg.PoolClient, statements: Array<[string, unknown[]?]>): Promise<pg.QueryResult[]> {
  const settled = await Promise.allSettled(statements.map(([text, values]) => client.query(text, values)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  const results = settled.map((s) => (s as PromiseFulfilledResult<pg.QueryResult>).value);
  // PostgreSQL answers COMMIT of a transaction an error aborted with a ROLLBACK tag.
  if (results[results.length - 1]?.command === "ROLLBACK") throw new Error("the transaction was rolled back at COMMIT");
  return results;
}

const BEGIN = "BEGIN ISOLATION LEVEL SERIALIZABLE";
const CLAIM = "INSERT INTO glue_idempotency (key, request_hash, status, attempts) VALUES ($1, $2, 'pending', $3) ON CONFLICT (key) DO NOTHING";
const STORE = "UPDATE glue_idempotency SET status = $2, reply = $3 WHERE key = $1";

/**
 * One attempt in three round trips: BEGIN with the claim of the key; the read
 * of both accounts; then the update, the outbox row, the stored reply and
 * COMMIT together. The business statements are the bank example's, so only
 * the plumbing differs from Herald.
 */
async function attemptOnce(
  client: pg.PoolClient,
  input: TransferInput,
  key: string,
  hash: string,
  eventSubject: string,
  attempt: number,
): Promise<{ reply: GlueReply; event?: GlueEvent }> {
  const [, claimed] = await together(client, [[BEGIN], [CLAIM, [key, hash, attempt]]]);
  if (claimed!.rowCount === 0) {
    const [stored] = await together(client, [["SELECT request_hash, reply FROM glue_idempotency WHERE key = $1", [key]], ["COMMIT"]]);
    return { reply: replay(stored!.rows[0], hash) };
  }
  const commandId = randomUUID();
  const { rows } = await client.query<{ id: string; balance: string }>("SELECT id, balance FROM glue_accounts WHERE id = ANY($1)", [[input.from, input.to]]);
  const from = rows.find((r) => r.id === input.from);
  const to = rows.find((r) => r.id === input.to);
  const refuse = async (code: string, message: string) => {
    const reply: GlueReply = { status: "rejected", commandId, idempotencyKey: key, duplicate: false, error: { code, message } };
    await together(client, [[STORE, [key, "rejected", JSON.stringify(reply)]], ["COMMIT"]]);
    return { reply };
  };
  if (!from || !to) return refuse("account_not_found", "an account does not exist");
  if (Number(from.balance) < input.amount) return refuse("insufficient_funds", `account ${input.from} has too little`);
  const fromBalance = Number(from.balance) - input.amount;
  const toBalance = Number(to.balance) + input.amount;
  const event: GlueEvent = { id: randomUUID(), subject: eventSubject, data: input };
  const reply: GlueReply = {
    status: "committed",
    commandId,
    idempotencyKey: key,
    duplicate: false,
    result: { ...input, fromBalance, toBalance },
    events: [{ id: event.id, subject: event.subject }],
    committedAt: new Date().toISOString(),
  };
  await together(client, [
    // The same single statement as the bank example's handler.
    ["UPDATE glue_accounts SET balance = CASE id WHEN $1 THEN $3::BIGINT ELSE $4::BIGINT END WHERE id IN ($1, $2)", [input.from, input.to, fromBalance, toBalance]],
    ["INSERT INTO glue_outbox (id, idempotency_key, subject, data) VALUES ($1, $2, $3, $4)", [event.id, key, event.subject, JSON.stringify(event.data)]],
    [STORE, [key, "committed", JSON.stringify(reply)]],
    ["COMMIT"],
  ]);
  return { reply, event };
}

/** Runs the transfer, retrying serialization failures; throws what it cannot retry. */
export async function runTransfer(
  pool: pg.Pool,
  stats: GlueStats,
  input: TransferInput,
  key: string,
  hash: string,
  eventSubject: string,
): Promise<{ reply: GlueReply; event?: GlueEvent }> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let failure: unknown;
    let broken = false;
    try {
      return await attemptOnce(client, input, key, hash, eventSubject, attempt);
    } catch (err) {
      failure = err;
      await client.query("ROLLBACK").catch(() => (broken = true));
    } finally {
      // The connection goes back before any backoff, so waiting never holds the pool.
      client.release(broken);
    }
    if (!retryable(failure) || attempt >= MAX_ATTEMPTS) throw failure;
    stats.retries++;
    await sleep(backoffMs(attempt));
  }
}
