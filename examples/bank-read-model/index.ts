/**
 * A read model kept up to date from `bank_accounts` row changes: `herald cdc
 * start --domain bank --table bank_accounts` publishes them to
 * `bank.cdc.bank_accounts.<op>` in BANK_CDC, and this consumer applies each
 * one exactly once through the inbox, with `consume()` unchanged. A TRUNCATE
 * of bank_accounts arrives as `bank.cdc.bank_accounts.truncate`, stored after
 * every earlier change of the table and before every later one: the view is
 * emptied at that point of the stream.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Kysely } from "kysely";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { consume, type HeraldConsumer } from "../../src/consumer/index.js";

export const readModelMigrations = fileURLToPath(new URL("./migrations", import.meta.url));

export interface BalancesView {
  bank_balances_view: { account_id: string; owner: string; balance: string | number; position: string };
}

/** A BIGINT column (docs/cdc.md, "Values"): a JSON number, or a string of its digits beyond 2^53 - 1. */
const bigint = z.union([z.number().int(), z.string().regex(/^-?\d+$/)]);
const row = z.object({ id: z.string(), owner: z.string(), balance: bigint });
const change = z.object({ key: z.object({ id: z.string() }), after: row.nullable(), position: z.string() });
const truncate = z.object({ position: z.string() });
/** Schemas by event name: the subject's last segment is the operation. */
export const changeSchemas = { insert: change, update: change, delete: change, truncate };

export interface ReadModelOptions {
  nc: NatsConnection;
  db: Kysely<any>;
  /** Domain whose CDC stream carries bank_accounts. Default `bank`. */
  domain?: string;
  /** Default `<DOMAIN>_CDC`. */
  stream?: string;
  /** Default `balances_view`. */
  durable?: string;
}

export function startBalancesView(options: ReadModelOptions): Promise<HeraldConsumer> {
  const domain = options.domain ?? "bank";
  return consume({
    nc: options.nc,
    db: options.db as Kysely<BalancesView>,
    domain,
    durable: options.durable ?? "balances_view",
    stream: options.stream ?? `${domain.toUpperCase()}_CDC`,
    filter: `${domain}.cdc.bank_accounts.>`,
    schemas: changeSchemas,
    async handle(event, { tx }) {
      if (event.name === "truncate") {
        await tx.deleteFrom("bank_balances_view").execute();
        return;
      }
      const { key, after, position } = event.data;
      if (event.name === "delete" || !after) {
        await tx.deleteFrom("bank_balances_view").where("account_id", "=", key.id).execute();
        return;
      }
      const values = { account_id: after.id, owner: after.owner, balance: String(after.balance), position };
      await tx
        .insertInto("bank_balances_view")
        .values(values)
        .onConflict((oc) => oc.column("account_id").doUpdateSet({ owner: values.owner, balance: values.balance, position }))
        .execute();
    },
  });
}
