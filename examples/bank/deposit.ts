import { sql } from "kysely";
import { z } from "zod";
import { defineCommand, type CommandContext } from "../../src/commands/define-command.js";
import type { BankTables } from "./tables.js";
import { accountId, amount, balance } from "./schemas.js";

export const deposit = defineCommand({
  name: "deposit",
  description: "Adds money to an account.",
  input: z.strictObject({ accountId, amount }),
  events: {
    deposited: z.object({ accountId, amount, balance }),
  },
  async handle(ctx: CommandContext<BankTables>, input) {
    const row = await ctx.tx
      .updateTable("bank_accounts")
      .set((eb) => ({ balance: eb("balance", "+", input.amount), updated_at: sql<string>`now()` }))
      .where("id", "=", input.accountId)
      .returning("balance")
      .executeTakeFirst();
    if (!row) return ctx.reject("account_not_found", `account ${input.accountId} does not exist`);
    return {
      result: { accountId: input.accountId, balance: row.balance },
      events: [{ name: "deposited", data: { accountId: input.accountId, amount: input.amount, balance: row.balance } }],
    };
  },
});
