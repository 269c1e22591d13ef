import { sql } from "kysely";
import { z } from "zod";
import { defineCommand, type CommandContext } from "../../src/commands/define-command.js";
import type { BankTables } from "./tables.js";
import { accountId, amount, balance } from "./schemas.js";

export const reservationId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1-64 characters of A-Z, a-z, 0-9, _ and -");

export const reserveFunds = defineCommand({
  name: "reserve_funds",
  description: "Sets money of an account aside for a purchase (an order); never lets the balance go below zero.",
  input: z.strictObject({ reservationId, accountId, amount }),
  events: {
    funds_reserved: z.object({ reservationId, accountId, amount, balance }),
  },
  async handle(ctx: CommandContext<BankTables>, input) {
    const taken = await ctx.tx.selectFrom("bank_reservations").select("id").where("id", "=", input.reservationId).executeTakeFirst();
    if (taken) return ctx.reject("reservation_exists", `reservation ${input.reservationId} already exists`);
    const account = await ctx.tx.selectFrom("bank_accounts").select("balance").where("id", "=", input.accountId).executeTakeFirst();
    if (!account) return ctx.reject("account_not_found", `account ${input.accountId} does not exist`);
    if (account.balance < input.amount) {
      return ctx.reject("insufficient_funds", `account ${input.accountId} has ${account.balance}, needs ${input.amount}`);
    }
    const left = account.balance - input.amount;
    await ctx.tx.updateTable("bank_accounts").set({ balance: left, updated_at: sql<string>`now()` }).where("id", "=", input.accountId).execute();
    await ctx.tx.insertInto("bank_reservations").values({ id: input.reservationId, account_id: input.accountId, amount: input.amount }).execute();
    return {
      result: { reservationId: input.reservationId, balance: left },
      events: [{ name: "funds_reserved", data: { reservationId: input.reservationId, accountId: input.accountId, amount: input.amount, balance: left } }],
    };
  },
});
