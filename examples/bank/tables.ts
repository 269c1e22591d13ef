import type { ColumnType } from "kysely";

/** The bank domain's tables, as its handlers see them through Kysely. */
export interface BankTables {
  bank_accounts: {
    id: string;
    owner: string;
    balance: number;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, never, string>;
  };
  bank_reservations: {
    id: string;
    account_id: string;
    amount: number;
    created_at: ColumnType<Date, never, never>;
  };
}
