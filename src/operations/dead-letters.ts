import { sql, type Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { MAX_PAGE_SIZE } from "./command-list.js";
import { NotFoundError, OperationInputError } from "./inputs.js";

/** One stored dead letter. */
export interface StoredDeadLetter {
  id: string;
  consumer: string;
  domain: string;
  eventId: string | null;
  subject: string;
  streamSeq: number | null;
  data: unknown;
  headers: Record<string, string>;
  error: string;
  deliveries: number;
  createdAt: Date;
}

/** Dead letters of one consumer. */
export interface DeadLetterCount {
  consumer: string;
  count: number;
  /** When the newest was recorded. */
  newest: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DURABLE = /^[A-Za-z0-9_-]{1,64}$/;

/** A dead letter's id, checked; anything else is an OperationInputError. */
export function parseDeadLetterId(text: string): string {
  const id = text.trim().toLowerCase();
  if (!UUID.test(id)) throw new OperationInputError(`dead letter id "${text.slice(0, 64)}" is not a UUID`);
  return id;
}

/** A consumer (durable) name, checked; `what` names it in the error. */
export function parseConsumerName(text: string, what = "consumer"): string {
  if (!DURABLE.test(text)) throw new OperationInputError(`${what} "${text.slice(0, 64)}" must be 1-64 characters of A-Z, a-z, 0-9, _ and -`);
  return text;
}

const fromRow = (r: any): StoredDeadLetter => ({
  id: r.id,
  consumer: r.consumer,
  domain: r.domain,
  eventId: r.event_id,
  subject: r.subject,
  streamSeq: r.stream_seq === null ? null : Number(r.stream_seq),
  data: r.data,
  headers: r.headers,
  error: r.error,
  deliveries: r.deliveries,
  createdAt: r.created_at,
});

/** How many dead letters each consumer of the domain has (at most 100 consumers). */
export async function deadLetterCounts(db: Kysely<HeraldTables>, domain: string): Promise<DeadLetterCount[]> {
  const { rows } = await sql<{ consumer: string; n: string; newest: Date }>`
    SELECT consumer, count(*) AS n, max(created_at) AS newest
      FROM herald_dead_letters WHERE domain = ${domain}
     GROUP BY consumer ORDER BY consumer LIMIT ${MAX_PAGE_SIZE}`.execute(db);
  return rows.map((r) => ({ consumer: r.consumer, count: Number(r.n), newest: r.newest }));
}

export interface DeadLetterListOptions {
  domain: string;
  /** One consumer's. Default: every consumer's. */
  consumer?: string;
  /** 1 to 100. Default 50. */
  limit?: number;
}

/** The domain's newest dead letters, newest first. */
export async function listDeadLetters(db: Kysely<HeraldTables>, options: DeadLetterListOptions): Promise<StoredDeadLetter[]> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), MAX_PAGE_SIZE);
  let query = db.selectFrom("herald_dead_letters").selectAll().where("domain", "=", options.domain);
  if (options.consumer !== undefined) query = query.where("consumer", "=", options.consumer);
  const rows = await query.orderBy("created_at", "desc").orderBy("id").limit(limit).execute();
  return rows.map(fromRow);
}

/** Dead letters by id, in the domain; any id not found is a NotFoundError naming it. */
export async function loadDeadLetters(db: Kysely<HeraldTables>, domain: string, ids: readonly string[]): Promise<StoredDeadLetter[]> {
  if (ids.length === 0) throw new OperationInputError("select at least one dead letter");
  if (ids.length > MAX_PAGE_SIZE) throw new OperationInputError(`at most ${MAX_PAGE_SIZE} dead letters at once`);
  const rows = await db.selectFrom("herald_dead_letters").selectAll().where("domain", "=", domain).where("id", "in", [...ids]).execute();
  const missing = ids.filter((id) => !rows.some((r) => r.id === id));
  if (missing.length > 0) throw new NotFoundError(`no dead letter ${missing.join(", ")} in domain ${domain} (already redriven, or pruned)`);
  return rows.map(fromRow);
}
