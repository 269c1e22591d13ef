import { jetstreamManager, type JetStreamManager, type JetStreamManagerOptions, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

/**
 * Opens a JetStream manager without nats.js's up-front account-info request
 * (`$JS.API.INFO`): Herald's roles are not granted it (least privilege), and
 * the first real call (stream or consumer info) fails just as clearly when
 * JetStream is missing. Every manager Herald opens goes through here.
 */
export function openStreamManager(nc: NatsConnection, options: Omit<JetStreamManagerOptions, "checkAPI"> = {}): Promise<JetStreamManager> {
  return jetstreamManager(nc, { ...options, checkAPI: false });
}

/**
 * Duplicate window of a domain's event stream, in ms: 15 minutes. A copy of an
 * event republished later than this after the first is stored again, so it must
 * outlast the relay's grace, a lease and the longest outage Herald promises to
 * absorb without a second copy (10 minutes; README "Promises").
 */
export const DEFAULT_DUPLICATE_WINDOW_MS = 900_000;

export interface StreamOptions {
  name: string;
  subjects: string[];
  /** JetStream's de-duplication window by `Nats-Msg-Id`, in ms, for a stream created here. Default DEFAULT_DUPLICATE_WINDOW_MS (15 min). */
  duplicateWindowMs?: number;
  /** Replicas in a cluster. Default 1. */
  replicas?: number;
}

/** Returns the stream, creating it when missing. An existing stream is left as its owner configured it. */
export async function ensureStream(jsm: JetStreamManager, options: StreamOptions): Promise<StreamInfo> {
  try {
    return await jsm.streams.info(options.name);
  } catch (err) {
    if ((err as { name?: string }).name !== "StreamNotFoundError" && !/stream not found/i.test(String((err as Error).message))) throw err;
  }
  try {
    return await jsm.streams.add({
      name: options.name,
      subjects: options.subjects,
      duplicate_window: (options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS) * 1_000_000,
      num_replicas: options.replicas ?? 1,
    });
  } catch (err) {
    // Another worker created it at the same moment.
    if (/already in use|exists/i.test(String((err as Error).message))) return jsm.streams.info(options.name);
    throw err;
  }
}

/** A stream's duplicate window in ms, as JetStream reports it (nanoseconds). */
export const duplicateWindowOf = (info: StreamInfo): number => Math.round(Number(info.config.duplicate_window ?? 0) / 1_000_000);
