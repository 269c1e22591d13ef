/** A token bucket per client address: `burst` requests at once, refilled at `perSecond`. */
export interface RateLimiter {
  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string, now?: number): boolean;
}

/** Buckets are forgotten once full again, so the map stays as small as the set of busy clients. */
export function createRateLimiter(options: { perSecond: number; burst: number; maxClients?: number }): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxClients = options.maxClients ?? 10_000;
  return {
    take(key, now = Date.now()) {
      const bucket = buckets.get(key) ?? { tokens: options.burst, at: now };
      bucket.tokens = Math.min(options.burst, bucket.tokens + ((now - bucket.at) / 1000) * options.perSecond);
      bucket.at = now;
      if (bucket.tokens < 1) return false;
      bucket.tokens -= 1;
      if (buckets.size >= maxClients && !buckets.has(key)) {
        for (const [k, b] of buckets) if (b.tokens + ((now - b.at) / 1000) * options.perSecond >= options.burst) buckets.delete(k);
        // Still full of busy clients: refuse newcomers rather than grow without bound.
        if (buckets.size >= maxClients) return false;
      }
      buckets.set(key, bucket);
      return true;
    },
  };
}
