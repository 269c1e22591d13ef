import type { NatsConnection } from "@nats-io/nats-core";
import type { Kysely } from "kysely";
import type { PostgresSlotStatus } from "../cdc/postgres-status.js";
import type { DialectName } from "../db/connection.js";
import type { HeraldTables } from "../db/schema.js";
import { pendingStats } from "../outbox/store.js";
import { logicalSlots } from "./cdc-slots.js";
import { commandWindow, type CommandWindow } from "./command-window.js";
import { deadLetterCounts, type DeadLetterCount } from "./dead-letters.js";
import { streamStatus, type StreamStatus } from "./stream-status.js";
import { discoverWorkers, type WorkerInstance } from "./workers.js";

/** Everything the overview of one domain shows. */
export interface DomainOverview {
  domain: string;
  window: CommandWindow;
  outbox: { pending: number; oldestAgeMs: number };
  stream: StreamStatus;
  deadLetters: DeadLetterCount[];
  slots: PostgresSlotStatus[];
  workers: WorkerInstance[];
  /** Parts that could not be read (NATS unreachable, a missing grant), by part. */
  problems: Record<string, string>;
}

export interface OverviewSources {
  db: Kysely<HeraldTables>;
  dialect: DialectName;
  nc: NatsConnection;
  domain: string;
  stream: string;
  /** Window of the command rates, seconds. Default 60. */
  windowSeconds?: number;
}

/** Reads each part at once; a part that fails is reported in `problems`, the others still shown. */
export async function domainOverview(s: OverviewSources): Promise<DomainOverview> {
  const problems: Record<string, string> = {};
  const part = <T>(name: string, p: Promise<T>, fallback: T): Promise<T> =>
    p.catch((err: unknown) => {
      problems[name] = (err as Error).message;
      return fallback;
    });
  const [window, outbox, stream, deadLetters, slots, workers] = await Promise.all([
    part("commands", commandWindow(s.db, s.domain, s.windowSeconds ?? 60), { seconds: s.windowSeconds ?? 60, perSecond: [], committed: 0, rejected: 0, retries: 0, p50Ms: null, p99Ms: null }),
    part("outbox", pendingStats(s.db, s.domain).then((r) => ({ pending: r.count, oldestAgeMs: r.oldestAgeMs })), { pending: 0, oldestAgeMs: 0 }),
    part("stream", streamStatus(s.nc, s.stream), { stream: s.stream, exists: false, messages: 0, firstSeq: 0, lastSeq: 0, consumers: [] }),
    part("deadLetters", deadLetterCounts(s.db, s.domain), []),
    part("cdc", logicalSlots(s.db, s.dialect), []),
    part("workers", discoverWorkers(s.nc, s.domain), []),
  ]);
  return { domain: s.domain, window, outbox, stream, deadLetters, slots, workers, problems };
}
