import { z } from "zod";

/** Shared field rules of the orders domain's commands and events. */
export const orderId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1-64 characters of A-Z, a-z, 0-9, _ and -");
export const customerId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1-64 characters of A-Z, a-z, 0-9, _ and -");

/** Data of an `order_cancelled` event, whichever command cancelled the order. */
export const orderCancelled = z.object({ orderId, reason: z.string().nullable() });

/** One order line; prices are integers in minor units (cents). */
export const orderItem = z.strictObject({
  sku: z.string().min(1).max(64),
  quantity: z.number().int().min(1).max(1000),
  unitPrice: z.number().int().min(0).max(1e9),
});
export type OrderItem = z.infer<typeof orderItem>;

/** A customer may have at most this many orders placed and not cancelled. */
export const MAX_OPEN_ORDERS = 3;
