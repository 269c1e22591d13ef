import { jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import { bankApp } from "../../examples/bank/index.js";
import type { HeraldApp } from "../../src/commands/define-app.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import type { Reply } from "../../src/protocol/replies.js";
import { startWorker, type Worker, type WorkerOptions } from "../../src/worker/worker.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { connectSharedNats } from "./nats-server.js";
import { uniqueDomain, uniqueKey } from "./names.js";

/** A migrated fresh database, a NATS connection and a unique domain for one test file. */
export interface Harness {
  readonly database: TestDatabase<any>;
  readonly nc: NatsConnection;
  readonly domain: string;
  readonly workers: Worker[];
  /** Starts a worker of the app (bank by default) under this harness's domain. */
  startWorker(overrides?: Partial<WorkerOptions>): Promise<Worker>;
  /** Sends one command request and parses the reply. */
  send(command: string, body: unknown, options?: SendOptions): Promise<RawReply>;
  /** Stops workers, deletes the stream, closes NATS and drops the database. */
  close(): Promise<void>;
}

export interface SendOptions {
  /** Idempotency key; `null` sends none. Default: a fresh key. */
  key?: string | null;
  /** Raw bytes instead of JSON-encoding `body`. */
  raw?: Uint8Array;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface RawReply {
  body: Reply & Record<string, any>;
  errorCode: string | undefined;
  errorText: string | undefined;
}

export async function createHarness(options: { app?: HeraldApp; nc?: NatsConnection } = {}): Promise<Harness> {
  const app = options.app ?? bankApp;
  const database = await createTestDatabase();
  await migrateApp(database.db, app);
  const nc = options.nc ?? (await connectSharedNats());
  const domain = uniqueDomain(app.domain.slice(0, 4));
  const workers: Worker[] = [];
  const encoder = new TextEncoder();

  const harness: Harness = {
    database,
    nc,
    domain,
    workers,
    async startWorker(overrides = {}) {
      const worker = await startWorker({ app, nc, db: database.db, domain, outbox: { intervalMs: 100, graceMs: 500 }, ...overrides });
      workers.push(worker);
      return worker;
    },
    async send(command, body, sendOptions = {}) {
      const h = natsHeaders();
      const key = sendOptions.key === undefined ? uniqueKey() : sendOptions.key;
      if (key !== null) h.set("Idempotency-Key", key);
      for (const [k, v] of Object.entries(sendOptions.headers ?? {})) h.set(k, v);
      const data = sendOptions.raw ?? encoder.encode(JSON.stringify(body));
      const msg = await nc.request(`${domain}.cmd.${command}`, data, { headers: h, timeout: sendOptions.timeoutMs ?? 30_000 });
      return {
        body: msg.json(),
        errorCode: msg.headers?.get("Nats-Service-Error-Code") || undefined,
        errorText: msg.headers?.get("Nats-Service-Error") || undefined,
      };
    },
    async close() {
      await Promise.allSettled(workers.map((w) => w.stop()));
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(`${domain.toUpperCase()}_EVENTS`).catch(() => undefined);
      // Consumers without a database keep their dead letters in this one.
      await jsm.streams.delete(`${domain.toUpperCase()}_DLQ`).catch(() => undefined);
      if (!options.nc) await nc.close();
      await database.drop();
    },
  };
  return harness;
}
