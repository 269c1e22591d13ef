import type { OutboxEvent } from "../outbox/outbox-event.js";
import type { StoredReply } from "../protocol/replies.js";
import type { CommandClaim } from "./store.js";

/**
 * Rows as columns: one array per column, each sent as one typed array
 * parameter and turned back into rows by `unnest`. The statement's text is
 * then the same for every batch size, so the database parses and plans it
 * once per connection (a named prepared statement), and no value is written
 * into SQL text.
 */

/** The stored form of a reply: `duplicate` is decided per request, never stored. */
export const storedReplyJson = (reply: StoredReply): string => JSON.stringify({ ...reply, duplicate: undefined });

/** Columns of commands as their claim rows hold them (status and outcome apart). */
export interface CommandColumns {
  id: string[];
  idempotencyKey: string[];
  subject: string[];
  command: string[];
  /** JSON text, cast to JSONB in the statement. */
  payload: string[];
  payloadHash: string[];
  receivedAt: string[];
  attempts: number[];
  traceId: Array<string | null>;
  spanId: Array<string | null>;
  expiresAt: string[];
}

/** The domain every claim shares: a batch never mixes domains. */
export function domainOf(claims: readonly CommandClaim[]): string {
  const domain = claims[0]!.domain;
  for (const c of claims) if (c.domain !== domain) throw new TypeError(`a batch mixes domains ${domain} and ${c.domain}`);
  return domain;
}

export function commandColumns(claims: readonly CommandClaim[]): CommandColumns {
  const n = claims.length;
  const cols: CommandColumns = {
    id: new Array(n),
    idempotencyKey: new Array(n),
    subject: new Array(n),
    command: new Array(n),
    payload: new Array(n),
    payloadHash: new Array(n),
    receivedAt: new Array(n),
    attempts: new Array(n),
    traceId: new Array(n),
    spanId: new Array(n),
    expiresAt: new Array(n),
  };
  for (let i = 0; i < n; i++) {
    const c = claims[i]!;
    cols.id[i] = c.id;
    cols.idempotencyKey[i] = c.idempotencyKey;
    cols.subject[i] = c.subject;
    cols.command[i] = c.command;
    cols.payload[i] = JSON.stringify(c.payload);
    cols.payloadHash[i] = c.fingerprint;
    cols.receivedAt[i] = c.receivedAt.toISOString();
    cols.attempts[i] = c.attempt;
    cols.traceId[i] = c.traceId ?? null;
    cols.spanId[i] = c.spanId ?? null;
    cols.expiresAt[i] = new Date(c.receivedAt.getTime() + c.retentionHours * 3_600_000).toISOString();
  }
  return cols;
}

/** Columns of outcomes: status, stored reply (JSON text) and commit time, in the order of their claims. */
export interface OutcomeColumns {
  status: string[];
  reply: string[];
  committedAt: string[];
}

export function outcomeColumns(outcomes: ReadonlyArray<{ reply: StoredReply; committedAt: Date }>): OutcomeColumns {
  const n = outcomes.length;
  const cols: OutcomeColumns = { status: new Array(n), reply: new Array(n), committedAt: new Array(n) };
  for (let i = 0; i < n; i++) {
    const o = outcomes[i]!;
    cols.status[i] = o.reply.status;
    cols.reply[i] = storedReplyJson(o.reply);
    cols.committedAt[i] = o.committedAt.toISOString();
  }
  return cols;
}

/** Columns of outbox events (their domain is the batch's). */
export interface EventColumns {
  id: string[];
  commandId: string[];
  subject: string[];
  type: string[];
  position: number[];
  /** JSON text, cast to JSONB in the statement. */
  data: string[];
  headers: string[];
}

export function eventColumns(events: readonly OutboxEvent[]): EventColumns {
  const n = events.length;
  const cols: EventColumns = { id: new Array(n), commandId: new Array(n), subject: new Array(n), type: new Array(n), position: new Array(n), data: new Array(n), headers: new Array(n) };
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    cols.id[i] = e.id;
    cols.commandId[i] = e.commandId;
    cols.subject[i] = e.subject;
    cols.type[i] = e.type;
    cols.position[i] = e.position;
    cols.data[i] = JSON.stringify(e.data);
    cols.headers[i] = JSON.stringify(e.headers);
  }
  return cols;
}
