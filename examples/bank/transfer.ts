import { sql } from "kysely";
import { z } from "zod";
import { defineCommand, type CommandContext } from "../../src/commands/define-command.js";
import type { BankTables } from "./tables.js";
import { accountId, amount } from "./schemas.js";

export const transfer = defineCommand({
  name: "transfer",
  description: "Moves money between two accounts; never lets a balance go below zero.",
  input: z
    .strictObject({ from: accountId, to: accountId, amount })
    .refine((t) => t.from !== t.to, { message: "from and to must be different accounts", path: ["to"] }),
  events: {
    transferred: z.object({ from: accountId, to: accountId, amount }),
  },
  async handle(ctx: CommandContext<BankTables>, input) {
    const rows = await ctx.tx
      .selectFrom("bank_accounts")
      .select(["id", "balance"])
      .where("id", "in", [input.from, input.to])
      .execute();
    const from = rows.find((r) => r.id === input.from);
    const to = rows.find((r) => r.id === input.to);
    if (!from) return ctx.reject("account_not_found", `account ${input.from} does not exist`);
    if (!to) return ctx.reject("account_not_found", `account ${input.to} does not exist`);
    if (from.balance < input.amount) {
      return ctx.reject("insufficient_funds", `account ${input.from} has ${from.balance}, needs ${input.amount}`);
    }
    const fromBalance = from.balance - input.amount;
    const toBalance = to.balance + input.amount;
    // One statement for both rows: fewer round trips inside the contended transaction.
    await sql`
      UPDATE bank_accounts
         SET balance = CASE id WHEN ${input.from} THEN ${fromBalance}::BIGINT ELSE ${toBalance}::BIGINT END,
             updated_at = now()
       WHERE id IN (${input.from}, ${input.to})`.execute(ctx.tx);
    return {
      result: { from: input.from, to: input.to, amount: input.amount, fromBalance, toBalance },
      events: [{ name: "transferred", data: { from: input.from, to: input.to, amount: input.amount } }],
    };
  },
  // The same rules for a batch of transfers: one read of every account, the
  // transfers applied in order in memory (a later one sees the earlier ones'
  // balances), one write of every balance that changed. A rejected transfer
  // changes nothing. Two round trips for the batch, whatever its size.
  async handleBatch(ctx, inputs) {
    const ids = [...new Set(inputs.flatMap((t) => [t.from, t.to]))];
    const rows = await ctx.tx.selectFrom("bank_accounts").select(["id", "balance"]).where("id", "in", ids).execute();
    const balances = new Map(rows.map((r) => [r.id, r.balance]));
    const changed = new Set<string>();
    const outcomes = inputs.map((input) => {
      const from = balances.get(input.from);
      const to = balances.get(input.to);
      if (from === undefined) return ctx.reject("account_not_found", `account ${input.from} does not exist`);
      if (to === undefined) return ctx.reject("account_not_found", `account ${input.to} does not exist`);
      if (from < input.amount) return ctx.reject("insufficient_funds", `account ${input.from} has ${from}, needs ${input.amount}`);
      const fromBalance = from - input.amount;
      const toBalance = to + input.amount;
      balances.set(input.from, fromBalance);
      balances.set(input.to, toBalance);
      changed.add(input.from).add(input.to);
      return {
        result: { from: input.from, to: input.to, amount: input.amount, fromBalance, toBalance },
        events: [{ name: "transferred" as const, data: { from: input.from, to: input.to, amount: input.amount } }],
      };
    });
    if (changed.size > 0) {
      const values = sql.join([...changed].map((id) => sql`(${id}::TEXT, ${balances.get(id)!}::BIGINT)`));
      await sql`
        UPDATE bank_accounts AS a
           SET balance = v.balance, updated_at = now()
          FROM (VALUES ${values}) AS v (id, balance)
         WHERE a.id = v.id`.execute(ctx.tx);
    }
    return outcomes;
  },
});
