import { silentLogger, type Logger } from "../telemetry/logger.js";
import type { ChangeBatch, ChangeSource, RowChange, SourcePosition } from "./change-source.js";
import { decodePgOutput, formatLsn, type Lsn, type PgOutputMessage, type Relation } from "./pgoutput.js";
import { primaryKeyColumns, qualifiedTable } from "./postgres-keys.js";
import { rowChanges } from "./postgres-row-changes.js";
import { assertCdcNames, ensurePostgresCdc, type PostgresCdcNames } from "./postgres-setup.js";
import type { PgTarget } from "./pg-client.js";
import { postgresSlotStatus } from "./postgres-status.js";
import { startReplication, type ReplicationConnection } from "./replication-connection.js";

/** `url`: the database; its user needs the REPLICATION attribute and SELECT on the tables. */
export interface PostgresSourceOptions extends PostgresCdcNames, PgTarget {
  /** Create the publication and the slot when missing. Default true. */
  createMissing?: boolean;
  /** How often acked positions are reported to the server (acks in between share one update), in ms. Default 100. */
  statusIntervalMs?: number;
  /** First delay before reconnecting after a failure or a nack, doubling up to 5000, in ms. Default 200. */
  reconnectDelayMs?: number;
  /** How long `start` keeps trying (e.g. while a killed predecessor still holds the slot), in ms. Default 30000. */
  startTimeoutMs?: number;
  /** Default: silent. */
  logger?: Logger;
}

interface OpenTransaction {
  commitLsn: Lsn;
  /** `commitLsn` as text, once for all its changes. */
  position: string;
  commitTime: Date;
  changes: RowChange[];
}

const OBJECT_IN_USE = "55006";

/**
 * Committed row changes from PostgreSQL logical replication (pgoutput). One
 * transaction is one batch. The slot's confirmed flush LSN moves only when a
 * batch is acked (to the end of its commit), so a crash or a nack makes the
 * server send every unacked transaction again.
 */
export function createPostgresSource(options: PostgresSourceOptions): ChangeSource {
  assertCdcNames(options);
  const logger = (options.logger ?? silentLogger).child({ component: "cdc-postgres", slot: options.slot });
  const statusIntervalMs = options.statusIntervalMs ?? 100;
  const watched = new Set(options.tables.map(qualifiedTable));
  /** Primary keys of the watched tables, read again on every connect (a key may be altered). */
  let primaryKeys = new Map<string, string[]>();
  let deliver: ((batch: ChangeBatch) => void | Promise<void>) | undefined;
  let conn: ReplicationConnection | undefined;
  let generation = 0;
  let stopped = true;
  /** End LSN of the newest acked transaction (or idle keepalive): what the slot may confirm. */
  let confirmed: Lsn = 0n;
  let reported: Lsn = 0n;
  let acknowledgedAt: Date | null = null;
  let outstanding = 0;
  let txn: OpenTransaction | null = null;
  let relations = new Map<number, Relation>();
  let statusTimer: ReturnType<typeof setInterval> | undefined;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let delay = options.reconnectDelayMs ?? 200;

  function report(force = false): void {
    if (!conn || (!force && confirmed <= reported)) return;
    conn.sendStatus(confirmed);
    reported = confirmed;
  }

  function handle(gen: number, msg: PgOutputMessage): void {
    switch (msg.tag) {
      case "begin":
        txn = { commitLsn: msg.finalLsn, position: formatLsn(msg.finalLsn), commitTime: msg.commitTime, changes: [] };
        return;
      case "insert":
      case "update":
      case "delete": {
        if (!txn) throw new Error(`pgoutput ${msg.tag} outside a transaction`);
        const rel = msg.relation;
        const name = `${rel.schema}.${rel.table}`;
        if (!watched.has(name)) return;
        for (const change of rowChanges(msg, primaryKeys.get(name))) {
          txn.changes.push({ table: rel.table, ...change, position: txn.position, seq: txn.changes.length, commitTime: txn.commitTime });
        }
        return;
      }
      case "commit": {
        const done = txn;
        txn = null;
        if (!done) return;
        emit(gen, done, msg.endLsn);
        return;
      }
      default:
        return;
    }
  }

  function emit(gen: number, done: OpenTransaction, endLsn: Lsn): void {
    let settled = false;
    outstanding++;
    const settle = () => {
      if (settled) return false;
      settled = true;
      outstanding--;
      return true;
    };
    const batch: ChangeBatch = {
      changes: done.changes,
      position: done.position,
      ack() {
        if (!settle()) return;
        if (endLsn > confirmed) {
          confirmed = endLsn;
          acknowledgedAt = done.commitTime;
        }
      },
      nack(cause) {
        if (!settle()) return;
        if (gen !== generation || stopped) return;
        logger.warn({ err: (cause as Error)?.message, position: batch.position }, "batch nacked; streaming again from the acked position");
        restart();
      },
    };
    const room = deliver!(batch);
    if (room && conn) {
      const paused = conn;
      paused.pause();
      void room.then(() => {
        if (gen === generation) paused.resume();
      });
    }
  }

  /** Drops the stream and what it had not finished, and reconnects from the acked position. */
  function restart(): void {
    generation++;
    txn = null;
    const old = conn;
    conn = undefined;
    void old?.close();
    scheduleConnect();
  }

  function scheduleConnect(): void {
    clearTimeout(reconnectTimer);
    const wait = delay;
    delay = Math.min(delay * 2, 5000);
    reconnectTimer = setTimeout(() => void connect().catch((err) => {
      logger.warn({ err: (err as Error).message }, "replication connection failed; retrying");
      if (!stopped) scheduleConnect();
    }), wait);
  }

  async function connect(): Promise<void> {
    if (stopped) return;
    const gen = ++generation;
    txn = null;
    // Relation messages come again on every new stream.
    relations = new Map();
    const keys = await primaryKeyColumns(options, options.tables);
    if (gen !== generation || stopped) return;
    primaryKeys = keys;
    const c = await startReplication(
      { url: options.url, passwordFile: options.passwordFile, slot: options.slot, publication: options.publication, from: confirmed },
      {
        data(payload) {
          if (gen !== generation) return;
          handle(gen, decodePgOutput(payload, relations));
        },
        keepalive(walEnd, replyRequested) {
          if (gen !== generation) return;
          // Idle: everything sent so far is acked, so the slot may move past WAL of other tables.
          if (outstanding === 0 && txn === null && walEnd > confirmed) confirmed = walEnd;
          if (replyRequested) report(true);
        },
        ended(err) {
          if (gen !== generation || stopped) return;
          logger.warn({ err: err?.message }, "replication stream ended; reconnecting");
          restart();
        },
      },
    );
    if (gen !== generation || stopped) {
      await c.close();
      return;
    }
    conn = c;
    delay = options.reconnectDelayMs ?? 200;
    reported = 0n;
    report();
  }

  return {
    kind: "postgres",
    async start(onBatch) {
      deliver = onBatch;
      stopped = false;
      if (options.createMissing ?? true) await ensurePostgresCdc(options, options);
      const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
      for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
        try {
          await connect();
          break;
        } catch (err) {
          // A predecessor that was killed may hold the slot until its backend notices.
          if ((err as { code?: string }).code !== OBJECT_IN_USE || Date.now() > deadline || stopped) throw err;
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
      statusTimer = setInterval(() => report(), statusIntervalMs);
      statusTimer.unref?.();
    },
    async position(): Promise<SourcePosition> {
      const slot = await postgresSlotStatus(options, options.slot);
      return {
        source: "postgres",
        acknowledged: slot ? slot.confirmedFlushLsn : null,
        acknowledgedAt,
        retainedBytes: slot ? slot.retainedBytes : null,
        active: slot?.active ?? false,
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(statusTimer);
      clearTimeout(reconnectTimer);
      generation++;
      const c = conn;
      report();
      conn = undefined;
      await c?.close();
    },
  };
}
