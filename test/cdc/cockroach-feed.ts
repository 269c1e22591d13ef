/**
 * A stand-in for a CockroachDB changefeed with a webhook sink, built from
 * CockroachDB's documented behaviour, not from a live CockroachDB:
 * - POSTs `{"payload": [...], "length": N}` with wrapped (or bare) messages carrying
 *   `key`, `topic` and `updated` (and `before` WITH diff), the Authorization header
 *   set to `webhook_auth_header`, over HTTPS;
 * - never has two batches with overlapping keys in flight, keeps each key's order;
 * - emits only the last change of a row within one transaction, all at the transaction's HLC timestamp;
 * - retries a request that got no 2xx (Retry.Backoff doubling), the same body again;
 * - after everything before it was 2xx'd, posts a resolved message `{"resolved": "<hlc>"}` on its own;
 * - `restartFromCheckpoint()` re-emits everything after the last 2xx'd resolved timestamp,
 *   as a job that failed or was paused does.
 */
import { Agent, request } from "node:https";
import { formatHlc, type Hlc } from "../../src/cdc/cockroach-hlc.js";
import type { Write } from "./conformance.js";

type Row = Record<string, unknown>;

export interface FeedMessage {
  table: string;
  id: string;
  updated: Hlc;
  before: Row | null;
  after: Row | null;
}

type Unit = { kind: "row"; message: FeedMessage } | { kind: "resolved"; ts: Hlc };

export interface SimulatedFeedOptions {
  /** Endpoint URL, read again on every attempt (the sink may move to another port on restart). */
  url: () => string;
  authHeader: string;
  /** PEM the sink's certificate is checked against (the sink URI's `ca_cert`). */
  ca: string;
  envelope?: "wrapped" | "bare";
  /** WITH diff. Default true. */
  diff?: boolean;
  /** Flush.Messages: at most this many messages per request. Default 2. */
  batchMessages?: number;
  /** Requests in flight at once (changefeed.sink_io_workers). Default 2. */
  concurrency?: number;
  /** Retry.Backoff in ms, doubling up to 500. Default 25. */
  backoffMs?: number;
  /** Post resolved timestamps when caught up. Default true. */
  resolved?: boolean;
}

export interface FeedStats {
  requests: number;
  /** Responses other than 2xx, and requests that failed on the network. */
  failures: number;
  statuses: number[];
  resolvedAcked: string | null;
}

export class SimulatedChangefeed {
  private readonly state = new Map<string, Map<string, Row>>();
  private readonly queue: Unit[] = [];
  private readonly inFlightKeys = new Set<string>();
  private readonly emitted: FeedMessage[] = [];
  private inFlight = 0;
  private last: Hlc = { wall: 0n, logical: 0n };
  private delivered: Hlc | null = null;
  private resolvedAcked: Hlc | null = null;
  private closed = false;
  private readonly agent: Agent;
  readonly stats: FeedStats = { requests: 0, failures: 0, statuses: [], resolvedAcked: null };
  private idleWaiters: Array<() => void> = [];
  /** Whether resolved timestamps are posted when caught up (a checkpoint); may be switched off and on. */
  autoResolve: boolean;

  constructor(private readonly options: SimulatedFeedOptions) {
    this.agent = new Agent({ keepAlive: true, ca: options.ca });
    this.autoResolve = options.resolved ?? true;
  }

  private now(): Hlc {
    const wall = BigInt(Date.now()) * 1_000_000n;
    this.last = wall > this.last.wall ? { wall, logical: 0n } : { wall: this.last.wall, logical: this.last.logical + 1n };
    return this.last;
  }

  /** Commits the writes as one transaction and queues its messages. */
  commit(writes: Write[]): void {
    const updated = this.now();
    const byRow = new Map<string, FeedMessage>();
    for (const w of writes) {
      const table = this.state.get(w.table) ?? new Map<string, Row>();
      this.state.set(w.table, table);
      const k = `${w.table}\0${w.id}`;
      const before = byRow.get(k)?.before ?? table.get(w.id) ?? null;
      const after = w.op === "delete" ? null : { id: w.id, value: w.value ?? 0 };
      if (after) table.set(w.id, after);
      else table.delete(w.id);
      byRow.delete(k);
      byRow.set(k, { table: w.table, id: w.id, updated, before, after });
    }
    for (const message of byRow.values()) {
      this.emitted.push(message);
      this.queue.push({ kind: "row", message });
    }
    this.pump();
  }

  /** Re-emits every change after the last acknowledged resolved timestamp. */
  restartFromCheckpoint(): void {
    const from = this.resolvedAcked;
    for (const message of this.emitted) {
      if (from === null || message.updated.wall > from.wall || (message.updated.wall === from.wall && message.updated.logical > from.logical)) {
        this.queue.push({ kind: "row", message });
      }
    }
    this.pump();
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.agent.destroy();
  }

  private encode(m: FeedMessage): Row {
    const key = [m.id];
    const topic = m.table;
    const updated = formatHlc(m.updated);
    if (this.options.envelope === "bare") return { ...(m.after ?? {}), __crdb__: { key, topic, updated } };
    return (this.options.diff ?? true) ? { after: m.after, before: m.before, key, topic, updated } : { after: m.after, key, topic, updated };
  }

  private pump(): void {
    const limit = this.options.batchMessages ?? 2;
    while (!this.closed && this.queue.length > 0 && this.inFlight < (this.options.concurrency ?? 2)) {
      const head = this.queue[0]!;
      if (head.kind === "resolved") {
        // A checkpoint: only once everything before it is acknowledged.
        if (this.inFlight > 0) return;
        this.queue.shift();
        void this.send([head], JSON.stringify(this.resolvedBody(head.ts)));
        continue;
      }
      const batch: Unit[] = [];
      const keys = new Set<string>();
      while (batch.length < limit && this.queue[0]?.kind === "row") {
        const m = (this.queue[0] as { message: FeedMessage }).message;
        const k = `${m.table}\0${m.id}`;
        // Never two batches with one key in flight; a key already in this batch stays in order within it.
        if (this.inFlightKeys.has(k)) break;
        keys.add(k);
        batch.push(this.queue.shift()!);
      }
      if (batch.length === 0) return;
      for (const k of keys) this.inFlightKeys.add(k);
      const payload = batch.map((u) => this.encode((u as { message: FeedMessage }).message));
      void this.send(batch, JSON.stringify({ payload, length: payload.length }), keys);
    }
    if (this.queue.length === 0 && this.inFlight === 0) {
      if (this.autoResolve && this.delivered && (this.resolvedAcked === null || this.delivered !== this.resolvedAcked)) {
        const ts = this.delivered;
        if (!this.queue.some((u) => u.kind === "resolved")) {
          this.queue.push({ kind: "resolved", ts });
          this.pump();
          return;
        }
      }
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private resolvedBody(ts: Hlc): Row {
    const resolved = formatHlc(ts);
    return this.options.envelope === "bare" ? { __crdb__: { resolved } } : { resolved };
  }

  private async send(units: Unit[], body: string, keys: Set<string> = new Set()): Promise<void> {
    this.inFlight++;
    let backoff = this.options.backoffMs ?? 25;
    while (!this.closed) {
      const status = await this.post(body);
      if (status >= 200 && status < 300) break;
      this.stats.failures++;
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 500);
    }
    this.inFlight--;
    for (const k of keys) this.inFlightKeys.delete(k);
    for (const u of units) {
      const ts = u.kind === "row" ? u.message.updated : u.ts;
      if (u.kind === "resolved") {
        this.resolvedAcked = ts;
        this.stats.resolvedAcked = formatHlc(ts);
      } else if (this.delivered === null || ts.wall > this.delivered.wall || (ts.wall === this.delivered.wall && ts.logical > this.delivered.logical)) {
        this.delivered = ts;
      }
    }
    this.pump();
  }

  /** One POST; the status, or 0 when the request failed on the network. */
  private post(body: string): Promise<number> {
    this.stats.requests++;
    return new Promise((resolve) => {
      const req = request(
        this.options.url(),
        {
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", authorization: this.options.authHeader, "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            this.stats.statuses.push(res.statusCode ?? 0);
            resolve(res.statusCode ?? 0);
          });
          res.on("error", () => resolve(0));
        },
      );
      req.on("error", () => resolve(0));
      req.end(body);
    });
  }
}
