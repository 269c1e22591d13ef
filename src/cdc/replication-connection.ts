import type pg from "pg";
import { pgClient, type PgTarget } from "./pg-client.js";
import { formatLsn, toPgTime, type Lsn } from "./pgoutput.js";
import { pinnedOptions } from "./pg-values.js";

/**
 * One PostgreSQL replication connection streaming a logical slot (pg's own
 * `replication: 'database'` mode: START_REPLICATION switches the connection
 * to CopyBoth; XLogData and keepalives arrive as CopyData, standby status
 * updates go back the same way). See the manual's "Streaming Replication
 * Protocol".
 */
export interface ReplicationConnection {
  /** Reports how far the client has durably handled WAL: write = flush = apply = `lsn`. */
  sendStatus(lsn: Lsn, replyRequested?: boolean): void;
  /** Stop reading the socket (the bridge has too much in flight), and go on. */
  pause(): void;
  resume(): void;
  /** Ends the stream and the connection. */
  close(): Promise<void>;
}

export interface ReplicationHandlers {
  /** One pgoutput message (the payload of an XLogData message). */
  data(payload: Buffer, walStart: Lsn): void;
  /** A primary keepalive: the server has sent everything up to `walEnd`. */
  keepalive(walEnd: Lsn, replyRequested: boolean): void;
  /**
   * The stream ended or failed; called once, and only for a stream that
   * started: a refused START_REPLICATION (slot in use, missing) is the error
   * startReplication throws, not an end.
   */
  ended(err: Error | undefined): void;
}

export interface StartReplicationOptions extends PgTarget {
  slot: string;
  publication: string;
  /** Where to start; 0 lets the server start at the slot's confirmed flush LSN. */
  from: Lsn;
  /** Connection timeout in ms. Default 10000. */
  connectTimeoutMs?: number;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (text: string): string => `'${text.replace(/'/g, "''")}'`;

export async function startReplication(options: StartReplicationOptions, handlers: ReplicationHandlers): Promise<ReplicationConnection> {
  const client = pgClient(options, {
    replication: "database",
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    // A replication connection must not time out while the stream is idle; keepalives flow both ways.
    keepAlive: true,
    // The text pgoutput prints for each value follows these session settings, whatever the database's defaults.
    options: pinnedOptions(),
  } as pg.ClientConfig);
  let ended = false;
  let refused: ((err: Error) => void) | undefined;
  let copying = false;
  const end = (err: Error | undefined) => {
    refused?.(err ?? new Error("replication connection closed before streaming"));
    if (ended) return;
    ended = true;
    // Reported once, one way: the caller of a refused start retries it itself. Reported here as
    // well, a standby's every refusal started a second reconnect loop that closed its own streams.
    if (copying) handlers.ended(err);
  };
  client.on("error", (err) => end(err));
  client.on("end", () => end(new Error("replication connection closed")));
  await client.connect();
  const connection = (client as unknown as { connection: PgConnection }).connection;
  let started!: () => void;
  const ready = new Promise<void>((resolve, reject) => {
    started = resolve;
    refused = reject;
  });
  connection.on("replicationStart", () => {
    copying = true;
    started();
  });
  connection.on("copyData", (msg: { chunk: Buffer }) => {
    const chunk = msg.chunk;
    try {
      const kind = chunk[0];
      if (kind === 0x77 /* w: XLogData */) handlers.data(chunk.subarray(25), chunk.readBigUInt64BE(1));
      else if (kind === 0x6b /* k: keepalive */) handlers.keepalive(chunk.readBigUInt64BE(1), chunk[17] === 1);
    } catch (err) {
      end(err as Error);
      void client.end().catch(() => undefined);
    }
  });
  const sql = `START_REPLICATION SLOT ${quoteIdent(options.slot)} LOGICAL ${formatLsn(options.from)} (proto_version '1', publication_names ${quoteLiteral(options.publication)})`;
  // The query only settles when the stream ends: with an error (slot in use, missing) or at CopyDone.
  void client.query(sql).then(
    () => end(undefined),
    (err: Error) => {
      refused?.(err);
      end(err);
    },
  );
  try {
    await ready;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }

  return {
    sendStatus(lsn, replyRequested = false) {
      if (ended || !copying) return;
      const b = Buffer.alloc(34);
      b[0] = 0x72; // r: standby status update
      b.writeBigUInt64BE(lsn, 1);
      b.writeBigUInt64BE(lsn, 9);
      b.writeBigUInt64BE(lsn, 17);
      b.writeBigInt64BE(toPgTime(new Date()), 25);
      b[33] = replyRequested ? 1 : 0;
      connection.sendCopyFromChunk(b);
    },
    pause: () => connection.stream.pause(),
    resume: () => connection.stream.resume(),
    async close() {
      ended = true;
      if (copying) {
        try {
          connection.endCopyFrom();
        } catch {
          // The socket is gone already.
        }
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        client.end().catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000))),
      ]);
      clearTimeout(timer);
      connection.stream.destroy();
    },
  };
}

/** The parts of pg's internal Connection the replication stream uses. */
interface PgConnection {
  on(event: string, listener: (...args: any[]) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  stream: { pause(): void; resume(): void; destroy(): void };
}
