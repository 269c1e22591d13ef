import { z } from "zod";
import { defineCommand, type CommandContext } from "../../src/commands/define-command.js";
import { customerId, MAX_OPEN_ORDERS, orderId, orderItem } from "./schemas.js";
import type { OrdersTables } from "./tables.js";

export const placeOrder = defineCommand({
  name: "place_order",
  description: "Places an order; a customer may have a limited number of open orders.",
  input: z
    .strictObject({ orderId, customerId, items: z.array(orderItem).min(1).max(50) })
    // A cross-field rule: the worker answers 400 invalid_command, the client refuses it before sending.
    .refine((o) => new Set(o.items.map((i) => i.sku)).size === o.items.length, { message: "each sku may appear once", path: ["items"] }),
  events: {
    order_placed: z.object({ orderId, customerId, items: z.array(orderItem), total: z.number().int().min(0) }),
  },
  async handle(ctx: CommandContext<OrdersTables>, input) {
    // Reads then writes inside one SERIALIZABLE transaction: two concurrent orders
    // cannot both see "2 open" and both insert a third and a fourth.
    const existing = await ctx.tx.selectFrom("orders").select("id").where("id", "=", input.orderId).executeTakeFirst();
    if (existing) return ctx.reject("order_exists", `order ${input.orderId} already exists`);
    const open = await ctx.tx
      .selectFrom("orders")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("customer_id", "=", input.customerId)
      .where("status", "=", "placed")
      .executeTakeFirstOrThrow();
    if (Number(open.n) >= MAX_OPEN_ORDERS) {
      return ctx.reject("too_many_open_orders", `customer ${input.customerId} already has ${MAX_OPEN_ORDERS} open orders`);
    }
    const total = input.items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
    await ctx.tx
      .insertInto("orders")
      .values({ id: input.orderId, customer_id: input.customerId, status: "placed", items: JSON.stringify(input.items), total, cancel_reason: null })
      .execute();
    return {
      result: { orderId: input.orderId, status: "placed" as const, total },
      events: [{ name: "order_placed", data: { orderId: input.orderId, customerId: input.customerId, items: input.items, total } }],
    };
  },
});
