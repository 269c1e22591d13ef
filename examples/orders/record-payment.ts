import { z } from "zod";
import { defineCommand, type CommandContext } from "../../src/commands/define-command.js";
import { orderId } from "./schemas.js";
import type { OrdersTables } from "./tables.js";

/** The order's payment follows the bank's answer: the order-payments reactor sends this. */
export const recordPayment = defineCommand({
  name: "record_payment",
  description: "Records how the bank answered an order's funds reservation.",
  input: z.strictObject({ orderId, payment: z.enum(["reserved", "declined"]), reason: z.string().min(1).max(500).optional() }),
  events: {
    payment_recorded: z.object({ orderId, payment: z.enum(["reserved", "declined"]) }),
  },
  async handle(ctx: CommandContext<OrdersTables>, input) {
    const order = await ctx.tx.selectFrom("orders").select(["payment"]).where("id", "=", input.orderId).executeTakeFirst();
    if (!order) return ctx.reject("order_not_found", `order ${input.orderId} does not exist`);
    if (order.payment !== null) return ctx.reject("payment_already_recorded", `order ${input.orderId} payment is already ${order.payment}`);
    await ctx.tx.updateTable("orders").set({ payment: input.payment }).where("id", "=", input.orderId).execute();
    return {
      result: { orderId: input.orderId, payment: input.payment },
      events: [{ name: "payment_recorded", data: { orderId: input.orderId, payment: input.payment } }],
    };
  },
});
