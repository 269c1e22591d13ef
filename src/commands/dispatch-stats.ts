/** Running totals of one dispatcher, for tests, `$SRV.STATS` and metrics. */
export interface DispatchStats {
  committed: number;
  rejected: number;
  /** Replies replayed from a stored command. */
  duplicates: number;
  /** Error replies by code. */
  errors: Record<string, number>;
  /** Transaction attempts that failed with a retryable error and were run again. */
  retries: number;
  /** Ambiguous commits resolved by re-reading the key. */
  ambiguous: number;
  /** Transactions that committed several commands at once (group commit). */
  batches: number;
}

export function emptyStats(): DispatchStats {
  return { committed: 0, rejected: 0, duplicates: 0, errors: {}, retries: 0, ambiguous: 0, batches: 0 };
}
