/**
 * CDC fault workload and invariants. Writers run concurrent transactions that
 * each add 1 to the `value` of one to three rows; one in five is rolled back
 * after also adding GHOST and inserting a ghost row. Because each committed
 * write adds exactly 1, a row's final value says how many committed changes
 * it had, even when a COMMIT's outcome was lost with its connection: the
 * stream must then hold, per row, its insert (0) and updates 1..final, once
 * each and in that order, and nothing with a ghost in it.
 */
import pg from "pg";
import type { StreamMessage } from "../kit/stream.js";

export const GHOST = 1_000_000;
export const CDC_TABLE = "cdc_rows";

export interface CdcWorkload {
  /** Stops the writers; resolves when they are done. Safe to call again. */
  stop(): Promise<{ committed: number; rolledBack: number; failed: number }>;
  /** Committed (or maybe committed) transactions so far. */
  committed(): number;
}

/** Creates the table with `rows` rows at value 0 (after the slot exists, so the inserts are captured). */
export async function seedRows(url: string, rows: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`INSERT INTO ${CDC_TABLE} (id, value) SELECT 'r' || g, 0 FROM generate_series(1, ${rows}) g`);
  } finally {
    await c.end();
  }
}

export const createTableSql = `CREATE TABLE ${CDC_TABLE} (id text PRIMARY KEY, value int NOT NULL)`;

export function startCdcWorkload(url: string, options: { writers: number; rows: number; seed?: number }): CdcWorkload {
  let running = true;
  const counts = { committed: 0, rolledBack: 0, failed: 0 };
  let rand = options.seed ?? 7;
  const next = () => (rand = (rand * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pool = new pg.Pool({ connectionString: url, max: options.writers, connectionTimeoutMillis: 2000 });
  pool.on("error", () => undefined);
  // A server going down may end a connection in the very packets that finish its startup, before
  // `pool.connect()` hands it over: the listener must be on the client from the pool's `connect` event.
  pool.on("connect", (client) => client.on("error", () => undefined));
  let ghosts = 0;
  const writer = async () => {
    while (running) {
      const n = 1 + Math.floor(next() * 3);
      const ids = [...new Set(Array.from({ length: n }, () => `r${1 + Math.floor(next() * options.rows)}`))].sort();
      const rollback = next() < 0.2;
      let client: pg.PoolClient | undefined;
      try {
        // A server restart ends checked-out connections too; the query then fails and is counted.
        client = await pool.connect();
        await client.query("BEGIN");
        for (const id of ids) await client.query(`UPDATE ${CDC_TABLE} SET value = value + $2 WHERE id = $1`, [id, rollback ? GHOST : 1]);
        if (rollback) {
          await client.query(`INSERT INTO ${CDC_TABLE} (id, value) VALUES ($1, $2)`, [`ghost${ghosts++}`, GHOST]);
          await client.query("ROLLBACK");
          counts.rolledBack++;
        } else {
          await client.query("COMMIT");
          counts.committed++;
        }
        client.release();
      } catch {
        // Serialization failure, or the server went away (the outcome may be unknown: the final values tell).
        counts.failed++;
        client?.release(true);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const done = Promise.all(Array.from({ length: options.writers }, writer));
  let stopped: Promise<typeof counts> | undefined;
  return {
    committed: () => counts.committed,
    stop() {
      running = false;
      stopped ??= done.then(() => pool.end()).then(() => counts);
      return stopped;
    },
  };
}

/** The final value of every row: how many committed updates it had. */
export async function finalValues(url: string): Promise<Map<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string; value: number }>(`SELECT id, value FROM ${CDC_TABLE}`);
    return new Map(rows.map((r) => [r.id, r.value]));
  } finally {
    await c.end();
  }
}

/** Every violation of the CDC invariants; empty when the stream is exactly right. */
export function cdcViolations(messages: StreamMessage[], finals: Map<string, number>): string[] {
  const problems: string[] = [];
  const ids = messages.map((m) => m.headers["Nats-Msg-Id"]);
  if (new Set(ids).size !== ids.length) problems.push(`${ids.length - new Set(ids).size} message(s) twice in the stream`);
  const seen = new Map<string, number[]>();
  for (const m of messages) {
    const id = String(m.data.key.id);
    const value = Number(m.data.after?.value);
    if (id.startsWith("ghost") || value >= GHOST) problems.push(`rolled-back write in the stream: ${id}=${value}`);
    else seen.set(id, [...(seen.get(id) ?? []), value]);
  }
  for (const [id, final] of finals) {
    const want = Array.from({ length: final + 1 }, (_, i) => i);
    const got = seen.get(id) ?? [];
    if (got.join(",") !== want.join(",")) {
      problems.push(`${id}: stream has [${got.slice(0, 20).join(",")}${got.length > 20 ? ",…" : ""}] (${got.length}), committed 0..${final}`);
    }
  }
  for (const id of seen.keys()) if (!finals.has(id)) problems.push(`${id} is in the stream but not in the table`);
  return problems;
}
