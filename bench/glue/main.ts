/**
 * The hand-written glue Herald replaces: a queue-group subscription whose handler
 * validates a transfer, runs it in one SERIALIZABLE transaction (see transfer.ts),
 * replies, publishes the event to JetStream awaiting the PubAck, and marks the
 * outbox row published; a small relay publishes rows a failure left behind.
 * Reads {"databaseUrl","natsUrl","domain","poolSize"} as one JSON line on stdin.
 */
import { createHash } from "node:crypto";
import { readConfig } from "../shared/read-config.js";
import { jetstream } from "@nats-io/jetstream";
import { headers, type Msg } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { createMarker, publishEvent, startRelay } from "./relay.js";
import { runTransfer, type GlueReply, type GlueStats, type TransferInput } from "./transfer.js";

interface Config {
  databaseUrl: string;
  natsUrl: string;
  domain: string;
  poolSize: number;
}


const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const KEY = /^[\x21-\x7e]{1,255}$/;

/** Plain validation, the way a small service checks its input by hand. */
function validate(body: unknown): TransferInput | string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "body must be an object";
  const { from, to, amount, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return `unknown fields: ${Object.keys(rest).join(", ")}`;
  if (typeof from !== "string" || !ACCOUNT_ID.test(from)) return "from must be an account id";
  if (typeof to !== "string" || !ACCOUNT_ID.test(to)) return "to must be an account id";
  if (from === to) return "from and to must differ";
  if (typeof amount !== "number" || !Number.isInteger(amount) || amount < 1 || amount > 1e12) return "amount must be an integer from 1 to 10^12";
  return { from, to, amount };
}

const config = await readConfig<Config>();
// Pipelined connections: statements that do not wait for each other share a round trip (see transfer.ts).
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.poolSize, application_name: "herald-bench-glue", pipeline: true } as pg.PoolConfig);
pool.on("error", () => undefined);
const nc = await connect({ servers: config.natsUrl.split(","), name: "herald-bench-glue" });
const js = jetstream(nc);
const subject = `${config.domain}.cmd.transfer`;
const eventSubject = `${config.domain}.evt.transferred`;
const stats: GlueStats & Record<string, number> = { retries: 0, committed: 0, rejected: 0, errors: 0, publishFailures: 0 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function respond(msg: Msg, reply: GlueReply, status?: number): void {
  const h = status === undefined ? undefined : headers();
  h?.set("Nats-Service-Error-Code", String(status));
  msg.respond(encoder.encode(JSON.stringify(reply)), h ? { headers: h } : undefined);
}

const fail = (msg: Msg, status: number, code: string, message: string) => {
  stats.errors++;
  respond(msg, { status: "error", error: { code, message } }, status);
};

async function handle(msg: Msg): Promise<void> {
  const key = msg.headers?.get("Idempotency-Key") ?? "";
  if (!key) return fail(msg, 400, "missing_idempotency_key", "Idempotency-Key header is required");
  if (!KEY.test(key)) return fail(msg, 400, "invalid_idempotency_key", "Idempotency-Key must be 1-255 visible ASCII characters");
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(msg.data));
  } catch {
    return fail(msg, 400, "invalid_json", "body is not JSON");
  }
  const input = validate(body);
  if (typeof input === "string") return fail(msg, 400, "invalid_command", input);
  const hash = createHash("sha256").update(subject).update("\n").update(msg.data).digest("hex");
  let outcome: Awaited<ReturnType<typeof runTransfer>>;
  try {
    outcome = await runTransfer(pool, stats, input, key, hash, eventSubject);
  } catch (err) {
    return fail(msg, 503, "unavailable", `database: ${(err as Error).message}`);
  }
  if (outcome.reply.status === "committed" && !outcome.reply.duplicate) stats.committed++;
  if (outcome.reply.status === "rejected" && !outcome.reply.duplicate) stats.rejected++;
  respond(msg, outcome.reply, outcome.reply.status === "rejected" ? 422 : outcome.reply.status === "error" ? 409 : undefined);
  // Reply first, then publish: the client never waits on JetStream.
  if (outcome.event && !(await publishEvent(js, marker, outcome.event))) stats.publishFailures++;
}

const inFlight = new Set<Promise<void>>();
const sub = nc.subscribe(subject, {
  queue: `glue-${config.domain}`,
  callback: (err, msg) => {
    if (err) return;
    const p = handle(msg).catch(() => undefined);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  },
});
const marker = createMarker(pool);
const relay = startRelay(js, pool, marker, { intervalMs: 1000, graceMs: 5000 });
process.stdout.write(`${JSON.stringify({ type: "ready" })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await sub.drain();
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  await relay.stop();
  await marker.flush();
  await nc.drain();
  await pool.end();
  process.stdout.write(`${JSON.stringify({ type: "stopped", ...stats })}\n`);
  process.exit(0);
}
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
