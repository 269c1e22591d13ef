import { connectDatabase, type Database } from "../../src/db/connection.js";
import { statementCount } from "../instrument/statement-count.js";

/** One measured connection: Herald's driver on a pool of one, its server process, and what it sent. */
export interface MeasuredConnection {
  readonly database: Database<any>;
  /** The PostgreSQL backend serving it (pg_backend_pid()). */
  readonly pid: number;
  /** Statements sent so far (a statement sent with COMMIT counts COMMIT too). */
  statements(): number;
  close(): Promise<void>;
}

/**
 * Opens a connection through Herald's driver (pipelining, statement-with-COMMIT)
 * and counts the statements it sends from now on. A pool of one, so the
 * backend whose CPU is read is the one doing the work.
 */
export async function openMeasuredConnection(url: string): Promise<MeasuredConnection> {
  // No statement deadline: a statement slow on a loaded machine must not cost the connection being measured.
  const database = await connectDatabase<any>({
    url,
    poolMax: 1,
    applicationName: "herald-layout-bench",
    timeouts: { statementTimeoutMs: 0, lockTimeoutMs: 0, idleInTransactionTimeoutMs: 0 },
  });
  // Never closed for idling: a connection that finished its share early must still be the one read at the end.
  (database.pool as unknown as { options: { idleTimeoutMillis: number } }).options.idleTimeoutMillis = 0;
  const client = await database.pool.connect();
  let statements = 0;
  let pid: number;
  try {
    pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const config = args[0] as string | { text?: string; commits?: boolean } | undefined;
      statements += statementCount(typeof config === "string" ? config : config?.text) + (typeof config === "object" && config?.commits === true ? 1 : 0);
      return original(...args);
    };
  } finally {
    client.release();
  }
  return {
    database,
    pid,
    statements: () => statements,
    async close() {
      await database.destroy();
    },
  };
}

/** Whether, after the measured window, the connection is still the one measured (a replaced one's CPU escaped the reading). */
export async function isStillMeasured(connection: MeasuredConnection): Promise<boolean> {
  const { rows } = await connection.database.pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  return rows[0]!.pid === connection.pid;
}
