import type pg from "pg";
import type { Logger } from "../telemetry/logger.js";
import type { DialectName } from "./connection.js";

/**
 * CockroachDB's license throttle, checked once at `herald start`
 * (docs/cockroachdb.md, "License throttle").
 *
 * A cluster with no license key is throttled 7 days after initialization, and
 * a throttled cluster allows 5 concurrent open SQL transactions; single-node
 * development clusters are not throttled
 * (https://www.cockroachlabs.com/docs/v24.3/licensing-faqs#throttling). The
 * documented reads are `SHOW CLUSTER SETTING enterprise.license` (empty: no
 * key; needs admin, MODIFYCLUSTERSETTING or VIEWCLUSTERSETTING) and the notices
 * a cluster at risk of throttling returns to clients that run transactions
 * (licensing-faqs#monitor-for-license-expiry); the read is itself a
 * transaction, so a notice it draws is logged too. Nothing documented for
 * production use tells a single-node cluster from a multi-node one, so the
 * warning says when it applies. The check never fails a start.
 */

/** The documented read of the license key (docs/cockroachdb.md, row S21). */
export const LICENSE_STATEMENT = "SHOW CLUSTER SETTING enterprise.license";

/** Concurrent open transactions a throttled cluster allows. */
export const THROTTLED_TRANSACTIONS = 5;

/** The warning for an empty license key, or undefined when a key is set. */
export function licenseWarning(license: string, poolMax: number): string | undefined {
  if (license.trim() !== "") return undefined;
  return (
    `CockroachDB reports no license key (enterprise.license is empty). A multi-node cluster without one is throttled ` +
    `7 days after initialization to ${THROTTLED_TRANSACTIONS} concurrent open transactions for all clients together; ` +
    `this worker alone may open ${poolMax} (HERALD_DB_POOL_MAX). Set a license key, or size HERALD_DB_POOL_MAX so that ` +
    `every worker, relay, consumer and CDC process together stays within ${THROTTLED_TRANSACTIONS}. ` +
    `Single-node clusters (cockroach start-single-node) are not throttled.`
  );
}

const THROTTLE_NOTICE = /licen[cs]e|throttl|telemetry/i;

/**
 * Reads the license key and runs one transaction to collect any throttle
 * notice; logs a warning for either. Never throws: a refused read is logged
 * at info level and the start goes on.
 */
export async function checkLicense(pool: pg.Pool, options: { dialect: DialectName; poolMax: number; logger: Logger }): Promise<string[]> {
  if (options.dialect !== "cockroachdb") return [];
  const warnings: string[] = [];
  let client: pg.PoolClient | undefined;
  const notices: string[] = [];
  const onNotice = (notice: { message?: string }) => {
    if (notice.message && THROTTLE_NOTICE.test(notice.message)) notices.push(notice.message);
  };
  try {
    client = await pool.connect();
    client.on("notice", onNotice);
    const { rows } = await client.query<Record<string, unknown>>(LICENSE_STATEMENT);
    const license = String(Object.values(rows[0] ?? {})[0] ?? "");
    const warning = licenseWarning(license, options.poolMax);
    if (warning) warnings.push(warning);
  } catch (err) {
    options.logger.info({ err: (err as Error).message }, "could not read CockroachDB's license key (needs VIEWCLUSTERSETTING); license throttle not checked");
  } finally {
    client?.off("notice", onNotice);
    client?.release();
  }
  warnings.push(...notices.map((n) => `CockroachDB: ${n}`));
  for (const w of warnings) options.logger.warn({ poolMax: options.poolMax }, w);
  return warnings;
}
