import { z } from "zod";

/** Shared field rules of the bank domain's commands and events. */
export const accountId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1-64 characters of A-Z, a-z, 0-9, _ and -");
export const amount = z.number().int().min(1).max(1e12);
export const balance = z.number().int().min(0);
