/**
 * The CockroachDB change source: Herald serves the endpoint of a changefeed
 * `webhook-https://` sink (https://www.cockroachlabs.com/docs/v24.3/changefeed-sinks#webhook-sink).
 *
 * Every POST is one batch. It is answered 2xx only after the bridge acked it,
 * that is after JetStream acked every change in it and in every earlier batch.
 * Anything else (a nack, no ack within `replyTimeoutMs`, a stop) answers 503,
 * and CockroachDB sends the batch again: it retries a failed request
 * (`webhook_sink_config` Retry.Max, Retry.Backoff), and when those retries run
 * out the job retries from its last checkpoint, re-emitting everything after it
 * (https://www.cockroachlabs.com/docs/v24.3/changefeed-messages#duplicate-messages).
 *
 * Duplicates: CockroachDB delivers at least once, so a change can arrive any
 * number of times, alone or in a differently cut batch. Each change's
 * `Nats-Msg-Id` is derived from its table, its primary key and its row version
 * only (never from the request or its place in it): the `mvcc_timestamp` and
 * column names when the changefeed sends `mvcc_timestamp`, else the `updated`
 * HLC timestamp. A retried or re-emitted copy gets the same id and JetStream
 * drops it within the stream's duplicate window; with `mvcc_timestamp`, so does
 * a row an initial scan or a schema change's backfill emits again at a new
 * `updated`, and such a message is marked `backfill`. A key changes at most once per timestamp: CockroachDB emits only the last
 * change of a row within one transaction
 * (https://www.cockroachlabs.com/docs/v24.3/changefeed-messages#per-key-ordering).
 *
 * Order: CockroachDB guarantees per-key order and never has two batches with
 * overlapping keys in flight (changefeed-messages#responses); within a request
 * the payload's order is kept, and the bridge publishes a key's changes one
 * after another.
 *
 * Position: the durable cursor is CockroachDB's own (the job's high-water mark).
 * Herald only reports the last resolved timestamp it acknowledged with a 2xx.
 */
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { IncomingMessage, ServerResponse } from "node:http";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { assertWatchedTable } from "./change-message.js";
import type { ChangeBatch, ChangeSource, RowChange, SourcePosition } from "./change-source.js";
import { ChangefeedPayloadError, parseChangefeedBody, type ChangefeedRequest } from "./changefeed-payload.js";
import { compareHlc, formatHlc, hlcTime, type Hlc } from "./cockroach-hlc.js";
import { namedKey } from "./changefeed-keys.js";
import { authorized, BodyTooLargeError, readLimitedBody, reply } from "./webhook-http.js";
import { webhookReplyCounter } from "./webhook-telemetry.js";

export interface CockroachSourceOptions {
  /** Interface to listen on. Default `127.0.0.1`; `0.0.0.0` to be reachable from another host or container. */
  host?: string;
  /** Port; 0 picks a free one (see `address()`). Default 8443. */
  port?: number;
  /** Path the changefeed posts to (its sink URI's path). Default `/changefeed`. */
  path?: string;
  /** Server certificate and key (PEM). CockroachDB's webhook sink speaks only HTTPS. */
  tls: { cert: string | Buffer; key: string | Buffer };
  /** The exact `Authorization` value the changefeed sends (its `webhook_auth_header`). Required. */
  authHeader: string;
  /**
   * Watched tables, each with its primary-key columns in key order (the
   * changefeed's `key` array carries values only). A list of names means the key is `id`.
   */
  tables: readonly string[] | Readonly<Record<string, readonly string[]>>;
  /** Largest body taken, in bytes; larger ones get 413. Default 8 MiB. */
  maxBodyBytes?: number;
  /**
   * How long a request waits for the bridge's ack before it gets 503, in ms.
   * Keep it below the changefeed's `webhook_client_timeout`. Default 8000.
   */
  replyTimeoutMs?: number;
  /** Default: silent. */
  logger?: Logger;
}

export interface CockroachWebhookSource extends ChangeSource {
  /** Where the server listens (after `start`). */
  address(): { host: string; port: number };
}

const DEFAULT_KEY = ["id"] as const;

/**
 * What a change's id derives from when the changefeed sends `mvcc_timestamp`:
 * the row version's MVCC timestamp, the same in every copy of that version
 * (an initial scan, a re-scan, a job restarted from its checkpoint), and the
 * row's column names, so the copy a schema change's backfill emits with a new
 * column is a message of its own, not a duplicate of the old one.
 */
function rowVersion(mvcc: Hlc, after: Readonly<Record<string, unknown>> | null): string {
  return `${formatHlc(mvcc)} ${after ? Object.keys(after).sort().join(",") : ""}`;
}

function keyColumns(tables: CockroachSourceOptions["tables"]): Map<string, readonly string[]> {
  const entries: Array<[string, readonly string[]]> = Array.isArray(tables)
    ? (tables as readonly string[]).map((t) => [t, DEFAULT_KEY])
    : Object.entries(tables as Readonly<Record<string, readonly string[]>>);
  if (entries.length === 0) throw new TypeError("name at least one table to watch");
  for (const [table, columns] of entries) {
    assertWatchedTable(table);
    if (columns.length === 0) throw new TypeError(`table ${table} needs at least one key column`);
  }
  return new Map(entries);
}

/** Creates the source; `start` opens the HTTPS server. */
export function createCockroachSource(options: CockroachSourceOptions): CockroachWebhookSource {
  if (!options.authHeader) throw new TypeError("authHeader is required: the endpoint must not take unauthenticated changes");
  const tables = keyColumns(options.tables);
  const path = options.path ?? "/changefeed";
  if (!path.startsWith("/")) throw new TypeError(`path "${path}" must start with /`);
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const replyTimeoutMs = options.replyTimeoutMs ?? 8000;
  const logger = (options.logger ?? silentLogger).child({ component: "cdc-cockroachdb" });
  let server: Server | undefined;
  let deliver: ((batch: ChangeBatch) => void | Promise<void>) | undefined;
  let acknowledged: Hlc | null = null;
  /** Aborts of the requests waiting for their ack. */
  const unanswered = new Set<() => void>();

  /** The watched table a topic names (`t`, or `db.schema.t` with `full_table_name`). */
  function tableOf(topic: string): string {
    const table = topic.slice(topic.lastIndexOf(".") + 1);
    if (!tables.has(table)) throw new ChangefeedPayloadError(`topic "${topic}" is not a watched table (${[...tables.keys()].join(", ")})`);
    return table;
  }

  function changesOf(request: ChangefeedRequest): RowChange[] {
    return request.rows.map((row) => {
      const table = tableOf(row.topic);
      const position = formatHlc(row.updated);
      const mvcc = row.mvccTimestamp;
      return {
        table,
        op: row.op,
        key: namedKey(table, tables.get(table)!, row),
        before: row.before,
        after: row.after,
        position,
        // No stable ordinal exists (a transaction's rows arrive in any cut); table + key + position is unique.
        seq: 0,
        commitTime: hlcTime(row.updated),
        // Without mvcc_timestamp the id derives from `updated`, and nothing tells a copy from a change.
        version: mvcc ? rowVersion(mvcc, row.after) : undefined,
        backfill: mvcc !== null && compareHlc(mvcc, row.updated) !== 0,
      };
    });
  }

  function highest(request: ChangefeedRequest): Hlc | null {
    let top: Hlc | null = request.resolved;
    for (const row of request.rows) if (top === null || compareHlc(row.updated, top) > 0) top = row.updated;
    return top;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://sink");
    if (url.pathname !== path) return reply(res, 404, { error: "not_found" });
    if (req.method !== "POST") return reply(res, 405, { error: "method_not_allowed" }, { allow: "POST" });
    if (!authorized(req, options.authHeader)) return reply(res, 401, { error: "unauthorized" }, { "www-authenticate": "Basic" });
    const type = req.headers["content-type"];
    if (type !== undefined && !/^application\/json\b/i.test(type)) {
      return reply(res, 415, { error: "unsupported_media_type", message: "create the changefeed with format = json" });
    }
    if (!deliver || !server) return reply(res, 503, { error: "unavailable" });
    let request: ChangefeedRequest;
    let changes: RowChange[];
    try {
      request = parseChangefeedBody(await readLimitedBody(req, maxBodyBytes));
      changes = changesOf(request);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return reply(res, 413, { error: "payload_too_large", limit: err.limit }, { connection: "close" });
      if (err instanceof ChangefeedPayloadError) {
        logger.warn({ err: err.message }, "refused a changefeed request");
        return reply(res, 400, { error: "invalid_payload", message: err.message });
      }
      throw err;
    }
    const top = highest(request);
    if (top === null) return reply(res, 200, { ok: true }); // an empty batch: nothing to publish
    await new Promise<void>((settled) => {
      let done = false;
      const abort = () => finish(503, { error: "unavailable", message: "shutting down; send again" });
      unanswered.add(abort);
      const finish = (status: number, body: Record<string, unknown>) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unanswered.delete(abort);
        reply(res, status, body);
        settled();
      };
      const timer = setTimeout(() => finish(503, { error: "unavailable", message: "not acknowledged in time; send again" }), replyTimeoutMs);
      res.on("close", () => finish(503, {}));
      const batch: ChangeBatch = {
        changes,
        position: formatHlc(top),
        ack() {
          // Only a resolved timestamp says nothing earlier is still to come.
          const resolved = request.resolved;
          if (resolved && (acknowledged === null || compareHlc(resolved, acknowledged) > 0)) acknowledged = resolved;
          finish(200, { ok: true });
        },
        nack(cause) {
          logger.warn({ err: (cause as Error)?.message, position: batch.position }, "batch nacked; CockroachDB sends it again");
          finish(503, { error: "unavailable", message: "not published; send again" });
        },
      };
      try {
        void Promise.resolve(deliver!(batch)).catch(() => undefined);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "delivery failed");
        finish(503, { error: "unavailable" });
      }
    });
  }

  function address(): { host: string; port: number } {
    const a = server?.address() as AddressInfo | null | undefined;
    if (!a) throw new Error("the changefeed webhook is not listening");
    return { host: a.address, port: a.port };
  }

  return {
    kind: "cockroachdb",
    async start(onBatch) {
      deliver = onBatch;
      if (server) return;
      const count = webhookReplyCounter();
      const s = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
        res.on("finish", () => count(res.statusCode));
        handle(req, res).catch((err) => {
          logger.error({ err: (err as Error).message }, "changefeed request failed");
          reply(res, 500, { error: "internal" });
        });
      });
      // Longer than Go's idle-connection timeout (a minute), so CockroachDB never reuses a connection this end just closed.
      s.keepAliveTimeout = 75_000;
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(options.port ?? 8443, options.host ?? "127.0.0.1", () => {
          s.off("error", reject);
          resolve();
        });
      });
      server = s;
      logger.info({ ...address(), path }, "changefeed webhook listening");
    },
    address,
    async position(): Promise<SourcePosition> {
      return {
        source: "cockroachdb",
        acknowledged: acknowledged ? formatHlc(acknowledged) : null,
        acknowledgedAt: acknowledged ? hlcTime(acknowledged) : null,
        retainedBytes: null,
        active: server !== undefined,
      };
    },
    async stop() {
      const s = server;
      server = undefined;
      deliver = undefined;
      if (!s) return;
      // Unacked batches: CockroachDB sends them again to the next process.
      for (const abort of [...unanswered]) abort();
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      await closed;
    },
  };
}
