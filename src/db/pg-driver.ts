import {
  AbortedTransactionError,
  CompiledQuery,
  PostgresDialect,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type TransactionSettings,
} from "kysely";
import type pg from "pg";
import { createStatementNames, type StatementNames } from "./statement-names.js";
import { statementThenCommit, withoutCommit } from "./statement-then-commit.js";

/**
 * Kysely's PostgreSQL dialect with a driver that saves round trips per
 * transaction: BEGIN is not sent on its own but in front of the transaction's
 * first statement when that statement has no parameters (Herald's savepoint,
 * for instance), as one simple-protocol message that both PostgreSQL and
 * CockroachDB accept. A first statement with parameters is pipelined behind
 * BEGIN (pg's pipeline mode): both leave in one write, one round trip; a
 * savepoint set first waits with BEGIN; a transaction that runs nothing sends
 * nothing. A
 * parameterless message that ends in COMMIT ends the transaction: Kysely's
 * commit that follows sends nothing. Statements that run again and again are
 * sent as named prepared statements (see createStatementNames).
 */
export class HeraldPostgresDialect extends PostgresDialect {
  readonly #pool: pg.Pool;
  readonly #pipeline: boolean;

  /**
   * `options.pipeline`: use node-postgres' pipeline mode (a statement is
   * written without waiting for the previous answer). Default true. False is
   * the escape hatch for a server whose pipelining misbehaves: BEGIN then waits
   * for its answer before a first statement with parameters (one more round
   * trip per such transaction); everything else is the same.
   */
  constructor(pool: pg.Pool, options: { pipeline?: boolean } = {}) {
    super({ pool });
    this.#pool = pool;
    this.#pipeline = options.pipeline ?? true;
  }

  override createDriver(): Driver {
    return new DeferredBeginDriver(this.#pool, this.#pipeline);
  }
}

/** The statement that opens a transaction with these settings. */
export function beginStatement(settings: TransactionSettings): string {
  let text = "START TRANSACTION";
  if (settings.isolationLevel) text += ` ISOLATION LEVEL ${settings.isolationLevel.toUpperCase()}`;
  if (settings.accessMode) text += ` ${settings.accessMode.toUpperCase()}`;
  return text;
}

/**
 * Statements that wait with BEGIN for the transaction's first real statement:
 * a plain `SAVEPOINT name` or `SET LOCAL name = 'value'`. They return nothing
 * and do not fail on their own.
 */
const DEFERRABLE = /^\s*(SAVEPOINT\s+("[^"]*"|\w+)|SET\s+LOCAL\s+\w+\s*=\s*'[^']*')\s*;?\s*$/i;

/** Tags of transaction-control statements: their results are not what a caller asked for. */
const CONTROL = new Set(["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET"]);

class PgConnection implements DatabaseConnection {
  /** BEGIN waiting for the transaction's first statement. */
  pendingBegin: string | undefined;
  /** A message already committed the transaction. */
  committed = false;
  discarded = false;

  constructor(
    readonly client: pg.PoolClient,
    readonly names: StatementNames,
    /** pg's pipeline mode is on for this connection. */
    readonly pipeline: boolean,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.discarded) throw new Error("this database connection was discarded");
    const begin = this.pendingBegin;
    this.pendingBegin = undefined;
    if (begin !== undefined) {
      // A savepoint or SET LOCAL right after BEGIN waits with it for the next statement.
      if (DEFERRABLE.test(query.sql)) {
        this.pendingBegin = `${begin}; ${query.sql.trim().replace(/;$/, "")}`;
        return { rows: [] };
      }
      if (query.parameters.length === 0) return this.#results<R>(await this.client.query(`${begin}; ${query.sql}`));
      if (!this.pipeline) {
        // Without pipeline mode BEGIN is answered before the statement leaves.
        try {
          await this.client.query(begin);
        } catch (err) {
          this.discarded = true;
          throw err;
        }
        return this.#run<R>(query);
      }
      // Pipelined: BEGIN and the statement leave together, each with its own Sync.
      // BEGIN's fixed text does not fail on a live connection; if it ever did, the
      // statement would have run outside a transaction, so the connection goes.
      // Corked, so both leave in one socket write, not one each.
      const stream = (this.client as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
      stream?.cork?.();
      let opened: Promise<unknown>;
      let own: Promise<QueryResult<R>>;
      try {
        opened = this.client.query(begin);
        own = this.#run<R>(query);
      } finally {
        stream?.uncork?.();
      }
      const [b, r] = await Promise.allSettled([opened, own]);
      if (b.status === "rejected") {
        this.discarded = true;
        throw b.reason;
      }
      if (r.status === "rejected") throw r.reason;
      return r.value;
    }
    return this.#run<R>(query);
  }

  /**
   * One statement: named (prepared) when its text is hot, else unnamed. A
   * parameterized statement that ends in `; COMMIT` goes out with COMMIT under
   * one Sync (see statementThenCommit), which ends the transaction.
   */
  async #run<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const values = query.parameters as unknown[];
    const committing = values.length > 0 ? withoutCommit(query.sql) : undefined;
    const text = committing ?? query.sql;
    const name = values.length > 0 ? this.names.nameFor(text) : undefined;
    if (name === undefined && committing === undefined) return this.#results<R>(await this.client.query(query.sql, values));
    try {
      if (committing !== undefined) return this.#results<R>(await statementThenCommit(this.client, { text, values, ...(name ? { name } : {}) }));
      return this.#results<R>(await this.client.query({ name, text, values }));
    } catch (err) {
      // A schema change can outdate a prepared statement's plan ("cached plan must not
      // change result type"): this connection's statements go with it; a new one prepares afresh.
      if ((err as { code?: string }).code === "0A000") this.discarded = true;
      throw err;
    }
  }

  /** Several statements in one message get one result each: the caller gets its own statement's. */
  #results<R>(answer: pg.QueryResult | pg.QueryResult[]): QueryResult<R> {
    if (!Array.isArray(answer)) return toQueryResult<R>(answer);
    const last = answer[answer.length - 1]!;
    if (last.command === "COMMIT") this.committed = true;
    const own = answer.filter((r) => !CONTROL.has(r.command));
    return toQueryResult<R>(own[own.length - 1] ?? last);
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("streaming queries are not supported by Herald's PostgreSQL driver");
  }
}

function toQueryResult<R>(result: pg.QueryResult): QueryResult<R> {
  const { command, rowCount, rows } = result;
  const counted = command === "INSERT" || command === "UPDATE" || command === "DELETE" || command === "MERGE";
  return {
    ...(counted ? { numAffectedRows: BigInt(rowCount ?? 0) } : {}),
    rows: (rows ?? []) as R[],
  };
}

class DeferredBeginDriver implements Driver {
  #pool: pg.Pool | undefined;
  readonly #names = createStatementNames();
  readonly #connections = new WeakMap<pg.PoolClient, PgConnection>();

  constructor(
    pool: pg.Pool,
    readonly pipeline: boolean,
  ) {
    this.#pool = pool;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (!this.#pool) throw new Error("the database driver was destroyed");
    const client = await this.#pool.connect();
    let connection = this.#connections.get(client);
    if (!connection) {
      // pg's pipeline mode: a query is written at once, not after the previous
      // one's answer. Kysely still awaits each statement of a transaction; the
      // driver uses it to send BEGIN with the first statement (above). Without
      // it pg queues the statement until BEGIN's answer is in.
      (client as { pipeline?: boolean }).pipeline = this.pipeline;
      connection = new PgConnection(client, this.#names, this.pipeline);
      this.#connections.set(client, connection);
    }
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = connection as PgConnection;
    c.pendingBegin = beginStatement(settings);
    c.committed = false;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as PgConnection;
    if (c.pendingBegin !== undefined || c.committed) {
      c.pendingBegin = undefined;
      c.committed = false;
      return;
    }
    const result = await c.client.query("COMMIT");
    // PostgreSQL completes COMMIT with a ROLLBACK tag when an earlier error aborted the transaction.
    if (result.command === "ROLLBACK") throw new AbortedTransactionError();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as PgConnection;
    if (c.pendingBegin !== undefined || c.committed) {
      c.pendingBegin = undefined;
      c.committed = false;
      return;
    }
    try {
      await c.client.query("ROLLBACK");
    } catch (err) {
      c.discarded = true;
      throw err;
    }
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`SAVEPOINT ${quoteIdentifier(name)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`ROLLBACK TO SAVEPOINT ${quoteIdentifier(name)}`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`RELEASE SAVEPOINT ${quoteIdentifier(name)}`));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = connection as PgConnection;
    c.pendingBegin = undefined;
    c.committed = false;
    // A discarded connection is closed instead of going back to the pool.
    c.client.release(c.discarded);
    if (c.discarded) this.#connections.delete(c.client);
  }

  async destroy(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  }
}

const quoteIdentifier = (name: string): string => `"${name.replace(/"/g, '""')}"`;
