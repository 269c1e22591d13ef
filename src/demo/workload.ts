import { openAccount, transfer } from "../../examples/bank/index.js";
import type { HeraldClient } from "../client/client.js";
import { CommandRequestError } from "../client/request-error.js";
import type { StoredReply } from "../protocol/replies.js";
import type { DemoPlan, PlannedRequest } from "./plan.js";

/** What the workload saw, request by request, and everything that was not as expected. */
export interface WorkloadTally {
  /** Requests put on the wire (the client's own retries not counted). */
  sent: number;
  /** The first stored reply of each key: account openings and transfers. */
  stored: Map<string, StoredReply>;
  resends: { sent: number; replayed: number };
  keyReuse: { sent: number; conflicts: number };
  mustReject: { planned: number; asExpected: number };
  invalid: { byWorker: number; byClient: number; byCode: Record<string, number> };
  /** Retries the client made on its own (timeouts, 503s), counted by `onRetry`. */
  clientRetries: number;
  /** Every deviation from what the demo expected; the run fails if there is any. */
  problems: string[];
}

export function emptyTally(): WorkloadTally {
  return {
    sent: 0,
    stored: new Map(),
    resends: { sent: 0, replayed: 0 },
    keyReuse: { sent: 0, conflicts: 0 },
    mustReject: { planned: 0, asExpected: 0 },
    invalid: { byWorker: 0, byClient: 0, byCode: {} },
    clientRetries: 0,
    problems: [],
  };
}

const describe = (err: unknown) => (err instanceof CommandRequestError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err));
const outcome = (reply: StoredReply) => (reply.status === "committed" ? "committed" : `rejected ${reply.error.code}`);

/** Opens the run's accounts; they must all commit. */
export async function openAccounts(client: HeraldClient, plan: DemoPlan, tally: WorkloadTally): Promise<void> {
  await Promise.all(
    plan.accounts.map(async (accountId, i) => {
      const key = `${plan.keyPrefix}open-${i}`;
      tally.sent++;
      const reply = await client.send(openAccount, { accountId, owner: `Demo ${accountId}`, initialBalance: plan.initialBalance }, { idempotencyKey: key });
      tally.stored.set(key, reply);
      if (reply.status !== "committed") throw new Error(`opening ${accountId} was ${outcome(reply)}: ${reply.error.message}`);
    }),
  );
}

async function runTransfer(client: HeraldClient, r: Extract<PlannedRequest, { kind: "transfer" }>, tally: WorkloadTally): Promise<void> {
  const send = (input = r.input) => {
    tally.sent++;
    return client.send(transfer, input, { idempotencyKey: r.key });
  };
  let reply: StoredReply;
  try {
    reply = await send();
  } catch (err) {
    tally.problems.push(`transfer ${r.key} got no stored outcome: ${describe(err)}`);
    return;
  }
  tally.stored.set(r.key, reply);
  if (r.mustReject) {
    tally.mustReject.planned++;
    if (reply.status === "rejected" && reply.error.code === r.mustReject) tally.mustReject.asExpected++;
    else tally.problems.push(`transfer ${r.key} must be rejected with ${r.mustReject}, was ${outcome(reply)}`);
  } else if (reply.status === "rejected" && reply.error.code !== "insufficient_funds") {
    tally.problems.push(`transfer ${r.key} was ${outcome(reply)}`);
  }

  if (r.resend) {
    tally.resends.sent++;
    try {
      const again = await send();
      if (again.duplicate && again.commandId === reply.commandId && again.status === reply.status) tally.resends.replayed++;
      else tally.problems.push(`re-sent ${r.key} was not a replay (duplicate=${again.duplicate}, same command=${again.commandId === reply.commandId})`);
    } catch (err) {
      tally.problems.push(`re-sent ${r.key} failed: ${describe(err)}`);
    }
  }

  if (r.reuseKey) {
    tally.keyReuse.sent++;
    try {
      const accepted = await send({ ...r.input, amount: r.input.amount + 1 });
      tally.problems.push(`key ${r.key} reused with another amount was ${outcome(accepted)}, not refused`);
    } catch (err) {
      if (err instanceof CommandRequestError && err.code === "idempotency_key_reused" && err.status === 409) tally.keyReuse.conflicts++;
      else tally.problems.push(`key ${r.key} reused: expected 409 idempotency_key_reused, got ${describe(err)}`);
    }
  }
}

async function runInvalid(client: HeraldClient, r: Extract<PlannedRequest, { kind: "invalid" }>, tally: WorkloadTally): Promise<void> {
  try {
    if (r.local) {
      await client.send(transfer, JSON.parse(r.body) as never, { idempotencyKey: r.key });
    } else {
      tally.sent++;
      await client.sendRaw(r.command, r.body, { idempotencyKey: r.key });
    }
    tally.problems.push(`invalid request "${r.label}" was accepted`);
  } catch (err) {
    if (!(err instanceof CommandRequestError) || err.code !== r.expect) {
      tally.problems.push(`invalid request "${r.label}": expected ${r.expect}, got ${describe(err)}`);
      return;
    }
    if (r.local && err.attempts !== 0) tally.problems.push(`invalid request "${r.label}" was sent instead of refused locally`);
    if (r.local) tally.invalid.byClient++;
    else tally.invalid.byWorker++;
    tally.invalid.byCode[err.code] = (tally.invalid.byCode[err.code] ?? 0) + 1;
  }
}

/**
 * Runs the planned requests with `concurrency` of them in flight. Stops taking
 * new ones when `stopped()` turns true; reports each finished one to `onDone`.
 */
export async function driveRequests(
  client: HeraldClient,
  requests: readonly PlannedRequest[],
  tally: WorkloadTally,
  options: { concurrency: number; onDone?: (done: number) => void; stopped?: () => boolean },
): Promise<void> {
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < requests.length && !options.stopped?.()) {
      const r = requests[next++]!;
      try {
        if (r.kind === "transfer") await runTransfer(client, r, tally);
        else await runInvalid(client, r, tally);
      } catch (err) {
        tally.problems.push(`request ${r.key} failed: ${describe(err)}`);
      }
      options.onDone?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, requests.length) }, lane));
}
