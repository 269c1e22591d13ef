/**
 * Reads the body of a CockroachDB changefeed webhook request.
 *
 * What CockroachDB sends (JSON format, the only one Herald takes):
 * - Row changes: `{"payload": [message, ...], "length": N}`, one POST per flushed batch
 *   (https://www.cockroachlabs.com/docs/v24.3/changefeed-sinks#webhook-sink-messages,
 *   https://www.cockroachlabs.com/docs/v24.3/changefeed-messages#responses).
 * - A resolved timestamp: its own POST whose body is the resolved message itself,
 *   `{"resolved": "<hlc>"}` (`{"__crdb__": {"resolved": ...}}` with `envelope = bare`)
 *   (https://www.cockroachlabs.com/docs/v24.3/changefeed-messages#resolved-messages).
 *   A resolved message inside `payload` is taken too.
 *
 * Message envelopes (https://www.cockroachlabs.com/docs/v24.3/changefeed-messages#message-envelopes);
 * the webhook sink allows `wrapped` and `bare` and always adds `key` and `topic`
 * (https://www.cockroachlabs.com/docs/v24.3/create-changefeed#key-in-value, #topic-in-value):
 * - `wrapped`: `{"after": {...} | null, "before"?: {...} | null, "key": [...], "topic": "t", "updated": "<hlc>"}`.
 *   `before` is there only `WITH diff`; null before means the row did not exist (an insert).
 * - `bare`: the row's columns at the top level and `{"__crdb__": {"key", "topic", "updated"}}`;
 *   a delete carries `__crdb__` alone. No `before`.
 * `updated` is required (`WITH updated`): it is the change's commit position.
 * `mvcc_timestamp` (`WITH mvcc_timestamp`) sits next to `updated` (top level when
 * wrapped, in `__crdb__` when bare): the MVCC timestamp of the row version, the
 * same in every copy of that version, even in an initial scan or a schema
 * change's backfill, whose `updated` is the scan's timestamp instead
 * (https://www.cockroachlabs.com/docs/v24.3/create-changefeed#mvcc-timestamp, #updated).
 */
import type { ChangeOperation } from "./change-source.js";
import { parseExactJson } from "./changefeed-json.js";
import { parseHlc, type Hlc } from "./cockroach-hlc.js";

/** The body is not a changefeed payload Herald can take: the request gets a 400 and nothing is published. */
export class ChangefeedPayloadError extends Error {
  override readonly name = "ChangefeedPayloadError";
  readonly status = 400;
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

/** One row change as the changefeed described it. */
export interface ChangefeedRow {
  /** Topic as sent: the table name, or `db.schema.table` with `full_table_name`. */
  readonly topic: string;
  /** Primary-key values in key-column order. */
  readonly key: readonly unknown[];
  readonly op: ChangeOperation;
  readonly before: Record<string, unknown> | null;
  readonly after: Record<string, unknown> | null;
  readonly updated: Hlc;
  /** The row version's MVCC timestamp (`WITH mvcc_timestamp`); null when the changefeed does not send it. */
  readonly mvccTimestamp: Hlc | null;
}

export interface ChangefeedRequest {
  /** In the payload's order, which keeps each key's order. */
  readonly rows: readonly ChangefeedRow[];
  /** Highest resolved timestamp in the request, if any. */
  readonly resolved: Hlc | null;
}

const META = "__crdb__";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function rowImage(value: unknown, what: string, at: number): Obj | null {
  if (value === null) return null;
  if (!isObj(value)) throw new ChangefeedPayloadError(`payload[${at}].${what} must be an object or null`);
  return value;
}

function hlcField(value: unknown, what: string): Hlc {
  const hlc = parseHlc(value);
  if (!hlc) {
    throw new ChangefeedPayloadError(
      value === undefined
        ? `${what} is missing: create the changefeed WITH updated`
        : `${what} must be an HLC timestamp like "1629813621680097993.0000000000"`,
    );
  }
  return hlc;
}

/** A resolved message (`{"resolved"}` or bare `{"__crdb__": {"resolved"}}`), else undefined. */
function resolvedOf(message: Obj): Hlc | undefined {
  // With `envelope = bare` the row's own columns are top-level, and one may be called `resolved`.
  const meta = isObj(message[META]) ? message[META] : undefined;
  const value = meta ? meta.resolved : message.resolved;
  if (value === undefined) return undefined;
  const keys = Object.keys(message).filter((k) => k !== "resolved" && k !== META);
  if (keys.length > 0) throw new ChangefeedPayloadError(`a resolved message has no other fields (found ${keys.join(", ")})`);
  return hlcField(value, "resolved");
}

function rowOf(message: Obj, at: number): ChangefeedRow {
  const bare = isObj(message[META]);
  const meta = bare ? (message[META] as Obj) : message;
  const key = meta.key;
  if (!Array.isArray(key) || key.length === 0) throw new ChangefeedPayloadError(`payload[${at}].key must be a non-empty array of primary-key values`);
  const topic = meta.topic;
  if (typeof topic !== "string" || topic === "") throw new ChangefeedPayloadError(`payload[${at}].topic must be the table's name`);
  const updated = hlcField(meta.updated, `payload[${at}].updated`);
  const mvccTimestamp = meta.mvcc_timestamp === undefined ? null : hlcField(meta.mvcc_timestamp, `payload[${at}].mvcc_timestamp`);
  if (bare) {
    const columns = Object.fromEntries(Object.entries(message).filter(([k]) => k !== META));
    const deleted = Object.keys(columns).length === 0;
    return { topic, key, op: deleted ? "delete" : "update", before: null, after: deleted ? null : columns, updated, mvccTimestamp };
  }
  if (!("after" in message)) throw new ChangefeedPayloadError(`payload[${at}] has neither "after" (wrapped envelope) nor "${META}" (bare envelope)`);
  const after = rowImage(message.after, "after", at);
  const hasBefore = "before" in message;
  const before = hasBefore ? rowImage(message.before, "before", at) : null;
  // Without `diff` an insert and an update look the same: both go out as update.
  const op: ChangeOperation = after === null ? "delete" : hasBefore && before === null ? "insert" : "update";
  return { topic, key, op, before, after, updated, mvccTimestamp };
}

const later = (a: Hlc | null, b: Hlc): Hlc => (a === null || b.wall > a.wall || (b.wall === a.wall && b.logical > a.logical) ? b : a);

/** Parses and checks a whole request body; throws ChangefeedPayloadError on anything it cannot take. */
export function parseChangefeedBody(body: string): ChangefeedRequest {
  let json: unknown;
  try {
    json = parseExactJson(body);
  } catch (err) {
    throw new ChangefeedPayloadError("the body is not JSON", { cause: err });
  }
  if (!isObj(json)) throw new ChangefeedPayloadError("the body must be a JSON object");
  if (!("payload" in json)) {
    const resolved = resolvedOf(json);
    if (!resolved) throw new ChangefeedPayloadError('the body has neither "payload" nor "resolved"');
    return { rows: [], resolved };
  }
  const { payload, length } = json;
  if (!Array.isArray(payload)) throw new ChangefeedPayloadError('"payload" must be an array');
  if (length !== payload.length) throw new ChangefeedPayloadError(`"length" (${JSON.stringify(length)}) must equal the number of messages (${payload.length})`);
  const extra = Object.keys(json).filter((k) => k !== "payload" && k !== "length");
  if (extra.length > 0) throw new ChangefeedPayloadError(`unknown top-level fields: ${extra.join(", ")}`);
  const rows: ChangefeedRow[] = [];
  let resolved: Hlc | null = null;
  payload.forEach((message, at) => {
    if (!isObj(message)) throw new ChangefeedPayloadError(`payload[${at}] must be an object`);
    const r = resolvedOf(message);
    if (r) resolved = later(resolved, r);
    else rows.push(rowOf(message, at));
  });
  return { rows, resolved };
}
