import pg from "pg";

/** pg's Query: the protocol steps it writes are what this extends. */
const Query = (pg as unknown as { Query: new (config: pg.QueryConfig, values?: unknown, callback?: (err: Error | null, result: unknown) => void) => PgQuery }).Query;

interface PgConnection {
  parse(options: { text: string; name?: string }): void;
  bind(options: { portal?: string; statement?: string; values?: unknown[] }): void;
  execute(options: { portal?: string; rows?: number }): void;
  sync(): void;
}

interface PgQuery {
  _getRows(connection: PgConnection, rows: number | undefined): void;
}

/**
 * A parameterized statement and COMMIT in one extended-protocol exchange
 * under a single Sync: Parse/Bind/Execute of the statement, Parse/Bind/Execute
 * of COMMIT, Sync, all in one socket write (pg corks the stream while a query
 * writes its messages). An error in the statement makes the server skip
 * everything up to the Sync, so COMMIT never runs and the transaction stays
 * open (aborted) for ROLLBACK or ROLLBACK TO SAVEPOINT: the semantics of
 * `statement; COMMIT` in one simple-protocol message, with parameters the
 * database plans once. Answers with the statement's result and COMMIT's.
 */
class StatementThenCommit extends (Query as unknown as new (config: pg.QueryConfig, values?: unknown, callback?: (err: Error | null, result: unknown) => void) => PgQuery) {
  /** Tells a queued query that ends the transaction from others (tests look for it). */
  readonly commits = true;

  override _getRows(connection: PgConnection, rows: number | undefined): void {
    connection.execute({ portal: "", rows: undefined });
    void rows;
    // The unnamed statement and portal are replaced: the first statement's portal has run by then.
    connection.parse({ text: "COMMIT" });
    connection.bind({});
    connection.execute({ portal: "", rows: undefined });
    connection.sync();
  }
}

/** Runs `query` and COMMIT together (see StatementThenCommit); resolves with both results. */
export function statementThenCommit(client: pg.ClientBase, query: { text: string; values: unknown[]; name?: string }): Promise<pg.QueryResult[]> {
  return new Promise((resolve, reject) => {
    const submittable = new StatementThenCommit({ text: query.text, values: query.values, ...(query.name ? { name: query.name } : {}) }, undefined, (err, result) => {
      if (err) reject(err);
      else resolve(Array.isArray(result) ? (result as pg.QueryResult[]) : [result as pg.QueryResult]);
    });
    void client.query(submittable as unknown as pg.QueryConfig);
  });
}

/** `…; COMMIT` at the end of a parameterized text: the statement to send with COMMIT (see statementThenCommit). */
const COMMIT_SUFFIX = /;\s*COMMIT\s*;?\s*$/i;

/** The statement before a trailing `; COMMIT`, or undefined when the text does not end so. */
export function withoutCommit(text: string): string | undefined {
  const match = COMMIT_SUFFIX.exec(text);
  return match ? text.slice(0, match.index) : undefined;
}
