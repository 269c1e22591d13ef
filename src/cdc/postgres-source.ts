import { silentLogger, type Logger } from "../telemetry/logger.js";
import type { ChangeBatch, ChangeSource, RowChange, SourcePosition } from "./change-source.js";
import { decodePgOutput, formatLsn, parseLsn, type Lsn, type PgOutputMessage, type Relation } from "./pgoutput.js";
import type { PgTypeInfo } from "./pg-values.js";
import { primaryKeyColumns, qualifiedTable } from "./postgres-keys.js";
import { rowChanges } from "./postgres-row-changes.js";
import { assertCdcNames, ensurePostgresCdc, type PostgresCdcNames } from "./postgres-setup.js";
import { alignPublication } from "./postgres-publication.js";
import { withPgClient, type PgTarget } from "./pg-client.js";
import { postgresSlotStatus } from "./postgres-status.js";
import { columnTypes } from "./postgres-types.js";
import { startReplication, type ReplicationConnection } from "./replication-connection.js";
import { OBJECT_IN_USE, waitForSlot } from "./postgres-standby.js";

/** `url`: the database; its user needs the REPLICATION attribute and SELECT on the tables. */
export interface PostgresSourceOptions extends PostgresCdcNames, PgTarget {
  /** Create the publication and the slot when missing, and add watched tables the publication lacks. Default true. */
  createMissing?: boolean;
  /** How often acked positions are reported to the server (acks in between share one update), in ms. Default 100. */
  statusIntervalMs?: number;
  /** First delay before reconnecting after a failure or a nack, doubling up to 5000, in ms. Default 200. */
  reconnectDelayMs?: number;
  /**
   * Changes of one transaction handed to the bridge together, at most: a larger
   * transaction goes out in pieces while it is read, and only its last piece's
   * ack moves the slot. Default 500.
   */
  pieceSize?: number;
  /** How often a standby (the slot is in use by another bridge) tries to take the slot, in ms. Default 1000. */
  standbyRetryMs?: number;
  /** Default: silent. */
  logger?: Logger;
}

interface OpenTransaction {
  /** The commit LSN (from Begin) as text, once for all its changes. */
  position: string;
  commitTime: Date;
  commitTimeText: string;
  /** Changes read so far and not yet handed over. */
  piece: RowChange[];
  /** Changes of the transaction so far: the next one's seq. */
  seq: number;
}

/** A status update at least this often, even when nothing moved: a paused stream must not look dead to the server. */
const HEARTBEAT_MS = 1000;

/**
 * Committed row changes from PostgreSQL logical replication (pgoutput). A
 * transaction is handed over in pieces of at most `pieceSize` changes as it
 * is read; the slot's confirmed flush LSN moves only when a transaction's
 * last piece is acked (to the end of its commit), so a crash or a nack makes
 * the server send every unacked transaction again, whole.
 */
export function createPostgresSource(options: PostgresSourceOptions): ChangeSource {
  assertCdcNames(options);
  const logger = (options.logger ?? silentLogger).child({ component: "cdc-postgres", slot: options.slot });
  const statusIntervalMs = options.statusIntervalMs ?? 100;
  const pieceSize = options.pieceSize ?? 500;
  const watched = new Set(options.tables.map(qualifiedTable));
  /** Primary keys and column types of the watched tables, read again on every connect (both may be altered). */
  let primaryKeys = new Map<string, string[]>();
  let types = new Map<number, PgTypeInfo>();
  let deliver: ((batch: ChangeBatch) => void | Promise<void>) | undefined;
  let conn: ReplicationConnection | undefined;
  let generation = 0;
  let stopped = true;
  /** End LSN of the newest acked transaction (or idle keepalive): what the slot may confirm. */
  let confirmed: Lsn = 0n;
  let reported: Lsn = 0n;
  let reportedAt = 0;
  let acknowledgedAt: Date | null = null;
  let outstanding = 0;
  let txn: OpenTransaction | null = null;
  let relations = new Map<number, Relation>();
  let statusTimer: ReturnType<typeof setInterval> | undefined;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let delay = options.reconnectDelayMs ?? 200;

  function report(force = false): void {
    if (!conn || (!force && confirmed <= reported && Date.now() - reportedAt < HEARTBEAT_MS)) return;
    // 0 (nothing acked yet) is ignored by the server as a position but still tells it the client is alive.
    conn.sendStatus(confirmed);
    reported = confirmed;
    reportedAt = Date.now();
  }

  function handle(gen: number, msg: PgOutputMessage): void {
    switch (msg.tag) {
      case "begin":
        txn = { position: formatLsn(msg.finalLsn), commitTime: msg.commitTime, commitTimeText: msg.commitTimeText, piece: [], seq: 0 };
        return;
      case "insert":
      case "update":
      case "delete": {
        const t = open(msg.tag);
        const rel = msg.relation;
        const name = `${rel.schema}.${rel.table}`;
        if (!watched.has(name)) return;
        for (const change of rowChanges(msg, primaryKeys.get(name))) add(gen, t, { table: rel.table, ...change });
        return;
      }
      case "truncate": {
        const t = open(msg.tag);
        for (const rel of msg.relations) {
          if (watched.has(`${rel.schema}.${rel.table}`)) add(gen, t, { table: rel.table, op: "truncate", key: {}, before: null, after: null });
        }
        return;
      }
      case "commit": {
        const done = txn;
        txn = null;
        if (done) handOver(gen, done, msg.endLsn);
        return;
      }
      default:
        return;
    }
  }

  function open(tag: string): OpenTransaction {
    if (!txn) throw new Error(`pgoutput ${tag} outside a transaction`);
    return txn;
  }

  function add(gen: number, t: OpenTransaction, change: Pick<RowChange, "table" | "op" | "key" | "before" | "after">): void {
    t.piece.push({ ...change, position: t.position, seq: t.seq++, commitTime: t.commitTime, commitTimeText: t.commitTimeText });
    if (t.piece.length >= pieceSize) handOver(gen, t, null);
  }

  /** Hands the transaction's changes read so far to the bridge; `endLsn` (its commit's end) only with the last piece. */
  function handOver(gen: number, t: OpenTransaction, endLsn: Lsn | null): void {
    const changes = t.piece;
    t.piece = [];
    let settled = false;
    outstanding++;
    const settle = () => {
      if (settled) return false;
      settled = true;
      outstanding--;
      return true;
    };
    const batch: ChangeBatch = {
      changes,
      position: t.position,
      ack() {
        if (!settle()) return;
        // A piece before the commit moves nothing: a crash before the last piece's ack resends the whole transaction.
        if (endLsn !== null && endLsn > confirmed) {
          confirmed = endLsn;
          acknowledgedAt = t.commitTime;
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
      // Too much in flight: stop reading the socket until the bridge has room.
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
      const code = (err as { code?: string }).code;
      // Another bridge took the slot while this one reconnected: this one is now its standby.
      if (code === OBJECT_IN_USE) delay = options.standbyRetryMs ?? 1000;
      logger.warn({ err: (err as Error).message, code }, code === OBJECT_IN_USE ? "the replication slot is in use by another bridge: waiting as a standby" : "replication connection failed; retrying");
      if (!stopped) scheduleConnect();
    }), wait);
  }

  /** What the decoder and the acks need before streaming: keys, types, and the slot's confirmed position. */
  async function readCatalog(): Promise<void> {
    const [keys, columnTypesRead, slot] = await Promise.all([
      primaryKeyColumns(options, options.tables),
      columnTypes(options, options.tables),
      postgresSlotStatus(options, options.slot),
    ]);
    primaryKeys = keys;
    types = columnTypesRead;
    if (slot?.confirmedFlushLsn) {
      const lsn = parseLsn(slot.confirmedFlushLsn);
      if (lsn > confirmed) confirmed = lsn;
    }
  }

  async function connect(): Promise<void> {
    if (stopped) return;
    const gen = ++generation;
    txn = null;
    // Relation messages come again on every new stream.
    relations = new Map();
    await readCatalog();
    if (gen !== generation || stopped) return;
    const c = await startReplication(
      { url: options.url, passwordFile: options.passwordFile, slot: options.slot, publication: options.publication, from: confirmed },
      {
        data(payload) {
          if (gen !== generation) return;
          handle(gen, decodePgOutput(payload, relations, types));
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
    report(true);
  }

  return {
    kind: "postgres",
    async start(onBatch) {
      deliver = onBatch;
      stopped = false;
      const createMissing = options.createMissing ?? true;
      if (createMissing) {
        const made = await ensurePostgresCdc(options, options);
        if (made.added.length > 0) logger.warn({ added: made.added, publication: options.publication }, "added watched tables the publication lacked");
      } else {
        await withPgClient(options, (client) => alignPublication(client, options, false));
      }
      await waitForSlot(connect, { retryMs: options.standbyRetryMs ?? 1000, stopped: () => stopped, logger });
      if (stopped) return;
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
