/**
 * Names the values of a changefeed message's `key` array, which carries the
 * primary key's values only, in key order
 * (https://www.cockroachlabs.com/docs/v24.3/changefeed-messages#responses).
 *
 * REGIONAL BY ROW: when a watched table becomes REGIONAL BY ROW, its hidden
 * `crdb_region` column becomes the first column of its primary key, the table
 * is backfilled through the changefeed, and every later message carries
 * `crdb_region` in its key and in its row images
 * (https://www.cockroachlabs.com/docs/v24.3/changefeeds-in-multi-region-deployments#run-changefeeds-on-regional-by-row-tables).
 * A key with exactly one value more than the configured columns, whose first
 * value is the row image's `crdb_region` (or a region name, for a delete that
 * carries no image), is therefore read as `crdb_region` followed by the
 * configured columns, without any setting. Any other mismatch is refused, and
 * the message names the `HERALD_CDC_WEBHOOK_KEYS` value that would fit, when
 * the row image shows which columns hold the key's values.
 */
import { ChangefeedPayloadError, type ChangefeedRow } from "./changefeed-payload.js";

/** The hidden region column of a REGIONAL BY ROW table. */
export const REGION_COLUMN = "crdb_region";

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Whether `row`'s key is `[crdb_region, ...columns]`. */
function regionalKey(columns: readonly string[], row: ChangefeedRow): boolean {
  if (columns[0] === REGION_COLUMN || row.key.length !== columns.length + 1) return false;
  const region = row.key[0];
  if (typeof region !== "string" || region === "") return false;
  const image = row.after ?? row.before;
  return image === null || same(image[REGION_COLUMN], region);
}

/** Columns of the row image holding the key's values, in key order; undefined when they cannot be told. */
function guessColumns(row: ChangefeedRow): string[] | undefined {
  const image = row.after ?? row.before;
  if (!image) return undefined;
  const used = new Set<string>();
  const found: string[] = [];
  for (const value of row.key) {
    const column = Object.keys(image).find((c) => !used.has(c) && same(image[c], value));
    if (column === undefined) return undefined;
    used.add(column);
    found.push(column);
  }
  return found;
}

/** The key of `row` as column → value, for a table keyed on `columns`; throws ChangefeedPayloadError (a 400) when they do not fit. */
export function namedKey(table: string, columns: readonly string[], row: ChangefeedRow): Record<string, unknown> {
  const names = row.key.length === columns.length ? columns : regionalKey(columns, row) ? [REGION_COLUMN, ...columns] : undefined;
  if (names) return Object.fromEntries(names.map((c, i) => [c, row.key[i]]));
  const guess = guessColumns(row);
  const hint = guess
    ? `set HERALD_CDC_WEBHOOK_KEYS=${table}:${guess.join("+")} (the row's primary-key columns in key order)`
    : `set HERALD_CDC_WEBHOOK_KEYS=${table}:<column>+<column> to the table's primary-key columns in key order (SHOW INDEX FROM ${table})`;
  throw new ChangefeedPayloadError(`topic "${row.topic}": key ${JSON.stringify(row.key)} does not match the key columns (${columns.join(", ")}); ${hint}`);
}
