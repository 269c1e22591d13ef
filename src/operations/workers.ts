import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import type { DispatchStats } from "../commands/dispatch-stats.js";

/** One worker instance that answered `$SRV.STATS`. */
export interface WorkerInstance {
  id: string;
  version: string;
  started: string;
  /** Requests answered, summed over its endpoints. */
  requests: number;
  /** Error replies (status 4xx/5xx headers), summed over its endpoints. */
  errors: number;
  /** Mean processing time over its endpoints, ms. */
  averageMs: number;
  /** The dispatcher's totals (committed, rejected, duplicates, errors, retries...). */
  stats: DispatchStats | null;
}

/**
 * The domain's workers online, found through NATS micro service discovery:
 * every instance of the service named after the domain answers `$SRV.STATS.<domain>`
 * within `waitMs` (default 500).
 */
export async function discoverWorkers(nc: NatsConnection, domain: string, waitMs = 500): Promise<WorkerInstance[]> {
  const client = new Svcm(nc).client({ strategy: "timer", maxWait: waitMs });
  const found: WorkerInstance[] = [];
  try {
    for await (const s of await client.stats(domain)) {
      const endpoints = s.endpoints ?? [];
      const requests = endpoints.reduce((n, e) => n + e.num_requests, 0);
      const nanos = endpoints.reduce((n, e) => n + e.processing_time, 0);
      found.push({
        id: s.id,
        version: s.version,
        started: s.started,
        requests,
        errors: endpoints.reduce((n, e) => n + e.num_errors, 0),
        averageMs: requests > 0 ? Math.round(nanos / requests / 1e4) / 100 : 0,
        stats: (endpoints.find((e) => e.data)?.data as DispatchStats | undefined) ?? null,
      });
      if (found.length >= 200) break;
    }
  } catch (err) {
    // No responders: no worker of the domain is online.
    if (!/no responders|503/i.test(String((err as Error).message))) throw err;
  }
  return found.sort((a, b) => a.id.localeCompare(b.id));
}
