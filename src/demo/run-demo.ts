import { bankApp } from "../../examples/bank/index.js";
import { CliError } from "../cli/cli-error.js";
import { createClient } from "../client/client.js";
import { connectDatabase, type DatabaseOptions } from "../db/connection.js";
import { migrateApp } from "../db/migrate-app.js";
import { connectNats, type NatsOptions } from "../messaging/connection.js";
import { openStreamManager } from "../messaging/stream.js";
import { checkBalances, checkDatabase, checkEvents, committedReplies, readRun, type Guarantee } from "./checks.js";
import type { DemoOptions } from "./options.js";
import { planDemo, type TransferInput } from "./plan.js";
import type { Progress } from "./progress.js";
import type { DemoReport } from "./report.js";
import { createEventReader, waitForEvents } from "./stream-events.js";
import { startDemoWorkers, type DemoWorkers } from "./workers.js";
import { driveRequests, emptyTally, openAccounts, type WorkloadTally } from "./workload.js";

/** Where the demo connects and reports; the CLI builds it from the environment. */
export interface DemoContext {
  /** The database to migrate and check (DATABASE_URL). Required. */
  database: DatabaseOptions;
  /** The NATS servers and credentials (NATS_URL). Required. */
  nats: Omit<NatsOptions, "name" | "logger">;
  /** The stream the workers publish to (HERALD_STREAM or `<DOMAIN>_EVENTS`). */
  stream: string;
  /** Phase lines and the live count. Required. */
  progress: Progress;
  /** Resolves on SIGINT/SIGTERM: the demo stops sending, stops its workers and exits. */
  stopSignal: Promise<string>;
}

/** How long the run's last events may take to reach the stream (the outbox relay picks up stragglers after ~5 s). */
const EVENTS_TIMEOUT_MS = 30_000;

const ratio = (part: number, whole: number) => `${part}/${whole}`;

function progressDetail(tally: WorkloadTally): string {
  const replies = [...tally.stored.values()];
  const committed = replies.filter((r) => r.status === "committed").length;
  return `committed ${committed}  rejected ${replies.length - committed}  replayed ${tally.resends.replayed}  invalid ${tally.invalid.byWorker + tally.invalid.byClient}`;
}

/**
 * Migrates, starts the workers, drives the workload, checks the database and
 * the stream against the replies, and stops the workers whatever happens.
 */
export async function runDemo(options: DemoOptions, ctx: DemoContext): Promise<DemoReport> {
  const started = Date.now();
  const { progress } = ctx;
  let signal: string | undefined;
  void ctx.stopSignal.then((s) => (signal = s));
  const interrupted = () => {
    if (signal) throw new CliError(`interrupted (${signal})`, 130);
  };

  progress.phase("migrating the database");
  const database = await connectDatabase({ ...ctx.database, poolMax: 4, applicationName: "herald-demo" });
  let workers: DemoWorkers | undefined;
  let nc: Awaited<ReturnType<typeof connectNats>> | undefined;
  try {
    await migrateApp(database.db, bankApp);
    interrupted();
    nc = await connectNats({ ...ctx.nats, name: "herald-demo" }).catch((err: unknown) => {
      throw new CliError(`cannot reach NATS at ${String(ctx.nats.servers)}`, 1, { cause: err });
    });
    progress.phase(`starting ${options.workers} workers of domain ${options.domain}`);
    workers = await startDemoWorkers(options.domain, options.workers);
    progress.phase(`workers ready (pids ${workers.pids.join(", ")})`);
    interrupted();

    const reader = await createEventReader(await openStreamManager(nc), ctx.stream);
    const plan = planDemo(options);
    const tally = emptyTally();
    const client = createClient(nc, { domain: options.domain, retry: { attempts: 10 }, onRetry: () => tally.clientRetries++ });
    progress.phase(`run ${plan.runId}: opening ${plan.accounts.length} hot accounts with ${plan.initialBalance} each`);
    await openAccounts(client, plan, tally);

    progress.phase(`sending ${plan.requests.length} requests, ${options.concurrency} at a time`);
    await driveRequests(client, plan.requests, tally, {
      concurrency: options.concurrency,
      stopped: () => signal !== undefined,
      onDone: (done) => progress.update(done, plan.requests.length, progressDetail(tally)),
    });
    progress.end();
    interrupted();

    progress.phase("checking the database and the stream");
    const expectedEvents = new Set(committedReplies(tally).flatMap((r) => r.events.map((e) => e.id)));
    await waitForEvents(reader, expectedEvents, EVENTS_TIMEOUT_MS);
    const record = await readRun(database.db, options.domain, plan);
    const transfers = new Map<string, TransferInput>(plan.requests.flatMap((r) => (r.kind === "transfer" ? [[r.key, r.input] as const] : [])));

    const events = checkEvents(tally, record, reader.events);
    const balances = checkBalances(plan, tally, transfers, record);
    const committed = committedReplies(tally);
    const rejected = [...tally.stored.values()].filter((r) => r.status === "rejected");
    const byCode: Record<string, number> = {};
    for (const r of rejected) if (r.status === "rejected") byCode[r.error.code] = (byCode[r.error.code] ?? 0) + 1;

    const answers: Guarantee = {
      name: "every request got the answer it should",
      held: tally.problems.length === 0,
      detail: tally.problems.length
        ? `${tally.problems.length} unexpected answer(s)`
        : `must-reject ${ratio(tally.mustReject.asExpected, tally.mustReject.planned)}, duplicates replayed ${ratio(tally.resends.replayed, tally.resends.sent)}, key reuse refused ${ratio(tally.keyReuse.conflicts, tally.keyReuse.sent)}, invalid refused ${tally.invalid.byWorker + tally.invalid.byClient}`,
    };
    const guarantees = [answers, checkDatabase(tally, record), events.guarantee, balances.guarantee];
    return {
      domain: options.domain,
      stream: ctx.stream,
      runId: plan.runId,
      keyPrefix: plan.keyPrefix,
      accounts: plan.accounts,
      workers: options.workers,
      transfers: options.transfers,
      concurrency: options.concurrency,
      durationMs: Date.now() - started,
      sent: tally.sent,
      committed: { total: committed.length, accountsOpened: committed.filter((r) => !transfers.has(r.idempotencyKey)).length, transfers: committed.filter((r) => transfers.has(r.idempotencyKey)).length },
      rejected: { total: rejected.length, byCode, mustReject: tally.mustReject.planned, asExpected: tally.mustReject.asExpected },
      duplicates: tally.resends,
      invalid: { total: tally.invalid.byWorker + tally.invalid.byClient, ...tally.invalid },
      keyReuse: tally.keyReuse,
      serializationRetries: record.commands.reduce((sum, c) => sum + c.attempts - 1, 0),
      clientRetries: tally.clientRetries,
      events: { committedCommands: committed.length, expected: events.expected, inStream: events.inStream, copies: events.copies },
      balances: { before: balances.before, after: balances.after, byAccount: record.balances },
      guarantees,
      problems: tally.problems.slice(0, 10),
      ok: guarantees.every((g) => g.held),
    };
  } finally {
    progress.end();
    if (workers) {
      progress.phase("stopping the workers");
      const codes = await workers.stop();
      if (codes.some((c) => c !== 0)) progress.phase(`a worker stopped with exit code(s) ${codes.join(", ")}`);
    }
    await nc?.close().catch(() => undefined);
    await database.destroy();
  }
}
