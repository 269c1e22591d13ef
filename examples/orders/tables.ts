import type { ColumnType } from "kysely";
import type { OrderItem } from "./schemas.js";

/** The orders domain's table, as its handlers see it through Kysely. */
export interface OrdersTables {
  orders: {
    id: string;
    customer_id: string;
    status: "placed" | "cancelled";
    /** JSONB: written as JSON text, read back parsed. */
    items: ColumnType<OrderItem[], string, string>;
    total: number;
    cancel_reason: string | null;
    /** How the bank answered the funds reservation; null while pending (migration 0002). */
    payment: ColumnType<"reserved" | "declined" | null, never, "reserved" | "declined">;
    placed_at: ColumnType<Date, never, never>;
    cancelled_at: ColumnType<Date | null, never, string>;
  };
}
