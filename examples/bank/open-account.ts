import { z } from "zod";
import { defineCommand, type CommandContext } from "../../src/commands/define-command.js";
import type { BankTables } from "./tables.js";
import { accountId, balance } from "./schemas.js";

export const openAccount = defineCommand({
  name: "open_account",
  description: "Opens an account with an optional initial balance.",
  input: z.strictObject({
    accountId,
    owner: z.string().min(1).max(200),
    initialBalance: z.number().int().min(0).max(1e12).optional(),
  }),
  events: {
    account_opened: z.object({ accountId, owner: z.string(), initialBalance: balance }),
  },
  async handle(ctx: CommandContext<BankTables>, input) {
    const initialBalance = input.initialBalance ?? 0;
    const created = await ctx.tx
      .insertInto("bank_accounts")
      .values({ id: input.accountId, owner: input.owner, balance: initialBalance })
      .onConflict((oc) => oc.column("id").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!created) return ctx.reject("account_exists", `account ${input.accountId} already exists`);
    return {
      result: { accountId: input.accountId, balance: initialBalance },
      events: [{ name: "account_opened", data: { accountId: input.accountId, owner: input.owner, initialBalance } }],
    };
  },
});
