import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import type { BatchOutcome } from "../../src/idempotency/batch-store.js";
import type { CommandClaim } from "../../src/idempotency/store.js";
import type { OutboxEvent } from "../../src/outbox/outbox-event.js";
import { buildEvents } from "../../src/outbox/writer.js";
import type { CommittedReply } from "../../src/protocol/replies.js";
import { ACCOUNTS_PER_CONNECTION } from "./schema.js";

/** The synthetic domain of every command. */
export const LAYOUT_DOMAIN = "layout";

/** How long a key is kept (Herald's default retention), in hours. */
const RETENTION_HOURS = 24;

const EVENT_SCHEMAS = {
  deposited: z.object({ account: z.number(), amount: z.number(), note: z.string() }),
  noted: z.object({ account: z.number(), note: z.string() }),
};

/** One synthetic command with its outcome and events, as the pipeline would hold them. */
export interface SyntheticCommand {
  claim: CommandClaim;
  outcome: BatchOutcome;
  events: OutboxEvent[];
  /** The account its business write updates. */
  account: number;
}

/** A batch: what one transaction carries. */
export interface SyntheticBatch {
  commands: SyntheticCommand[];
}

/**
 * The `index`-th command of connection `connection`, with `eventsPerCommand`
 * events. Keys are unique unless `key` is given (a duplicate on purpose).
 */
export function syntheticCommand(connection: number, index: number, eventsPerCommand: number, key: string = randomUUID()): SyntheticCommand {
  const id = randomUUID();
  const receivedAt = new Date();
  const account = connection * ACCOUNTS_PER_CONNECTION + (index % ACCOUNTS_PER_CONNECTION);
  const payload = { account, amount: 100 + (index % 900), note: `deposit ${index} from connection ${connection}` };
  const traceId = randomUUID().replaceAll("-", "");
  const spanId = traceId.slice(0, 16);
  const claim: CommandClaim = {
    id,
    domain: LAYOUT_DOMAIN,
    idempotencyKey: key,
    subject: `herald.${LAYOUT_DOMAIN}.cmd.deposit`,
    command: "deposit",
    payload,
    fingerprint: createHash("sha256").update(JSON.stringify(payload)).digest("hex"),
    receivedAt,
    attempt: 1,
    traceId,
    spanId,
    retentionHours: RETENTION_HOURS,
  };
  const drafts = Array.from({ length: eventsPerCommand }, (_, k) =>
    k === 0 ? { name: "deposited", data: { account, amount: payload.amount, note: payload.note } } : { name: "noted", data: { account, note: `note ${k}` } },
  );
  const committedAt = new Date();
  const origin = { domain: LAYOUT_DOMAIN, commandId: id, idempotencyKey: key, traceparent: `00-${traceId}-${spanId}-01` };
  const events = buildEvents(origin, EVENT_SCHEMAS, drafts, committedAt);
  const reply: CommittedReply = {
    status: "committed",
    commandId: id,
    idempotencyKey: key,
    duplicate: false,
    result: { account, balance: payload.amount },
    events: events.map((e) => ({ id: e.id, subject: e.subject })),
    committedAt: committedAt.toISOString(),
  };
  return { claim, outcome: { claim, reply, committedAt }, events, account };
}

/** A batch of `size` fresh commands for connection `connection`, numbered from `first`. */
export function syntheticBatch(connection: number, first: number, size: number, eventsPerCommand: number): SyntheticBatch {
  return { commands: Array.from({ length: size }, (_, k) => syntheticCommand(connection, first + k, eventsPerCommand)) };
}
