import type { ColumnType, Generated } from "kysely";

/** JSON columns: written as JSON text, read back parsed. */
export type Json<T = unknown> = ColumnType<T, string, string>;

/** One row per accepted command, keyed by (domain, idempotency_key). */
export interface CommandsTable {
  id: string;
  domain: string;
  idempotency_key: string;
  subject: string;
  command: string;
  payload: Json;
  payload_hash: string;
  /** `pending` only inside the claiming transaction; `committed` or `rejected` once stored. */
  status: "pending" | "committed" | "rejected";
  reply: Json | null;
  received_at: ColumnType<Date, Date | string, Date | string>;
  committed_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  attempts: number;
  trace_id: string | null;
  span_id: string | null;
  expires_at: ColumnType<Date, Date | string, Date | string>;
}

/** The outbox: every event a committed command produced, and whether it reached the stream. */
export interface OutboxTable {
  id: string;
  command_id: string;
  domain: string;
  subject: string;
  type: string;
  position: number;
  data: Json;
  headers: Json<Record<string, string>>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  published_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  stream_seq: number | null;
  publish_attempts: Generated<number>;
  lease_until: ColumnType<Date | null, Date | string | null, Date | string | null>;
}

/** Events a downstream consumer applied (migration 0002): its exactly-once record. */
export interface InboxTable {
  consumer: string;
  event_id: string;
  processed_at: ColumnType<Date, Date | string | undefined, never>;
}

/** Events a consumer gave up on, with the last error (migration 0002). */
export interface DeadLettersTable {
  id: string;
  consumer: string;
  domain: string;
  /** Null when the event carried no `ce-id`. */
  event_id: string | null;
  subject: string;
  stream_seq: number | null;
  data: Json | null;
  headers: Json<Record<string, string>>;
  error: string;
  deliveries: number;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** How far each consumer has applied its stream (migration 0004). */
export interface ConsumerPositionsTable {
  consumer: string;
  stream: string;
  /** Every event at or below this stream sequence is applied or dead-lettered. */
  applied_seq: number;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** Commands a reactor sent that were rejected (migration 0004). */
export interface ReactorRejectionsTable {
  reactor: string;
  idempotency_key: string;
  event_id: string;
  subject: string;
  code: string;
  message: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** What operators did through the console, and how it ended (migration 0005). */
export interface OperatorActionsTable {
  id: string;
  at: ColumnType<Date, Date | string | undefined, never>;
  /** The operator's name as the authenticator gave it. */
  operator: string;
  /** `redrive`, `replay` or `prune`. */
  action: string;
  domain: string;
  /** What the action was applied to (ids, a time range...). */
  target: Json<Record<string, unknown>>;
  outcome: "done" | "failed";
  /** One line: the result, or the error. */
  detail: string;
}

/** NATS user JWTs the identity issuer signed (migration 0003). */
export interface IdentityIssuancesTable {
  id: string;
  issued_at: ColumnType<Date, Date | string | undefined, never>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  /** The OIDC token's `sub`. */
  subject: string;
  /** The OIDC token's `iss`. */
  issuer: string;
  domain: string;
  /** `worker`, `client`, `consumer:<durable>`, `cdc` or `operator`. */
  role: string;
  /** The user's NKey public key (`U...`). */
  nkey: string;
  /** The OIDC token's `jti`, when it has one. */
  token_id: string | null;
}

/** Revoked OIDC subjects and NKeys (migration 0003). */
export interface IdentityRevocationsTable {
  id: string;
  kind: "subject" | "key";
  value: string;
  revoked_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface HeraldTables {
  herald_commands: CommandsTable;
  herald_outbox: OutboxTable;
  herald_inbox: InboxTable;
  herald_dead_letters: DeadLettersTable;
  herald_consumer_positions: ConsumerPositionsTable;
  herald_reactor_rejections: ReactorRejectionsTable;
  herald_operator_actions: OperatorActionsTable;
  herald_identity_issuances: IdentityIssuancesTable;
  herald_identity_revocations: IdentityRevocationsTable;
}
