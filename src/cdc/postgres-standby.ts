import type { Logger } from "../telemetry/logger.js";

/** SQLSTATE of START_REPLICATION on a slot another connection streams from. */
export const OBJECT_IN_USE = "55006";

/**
 * Connects, or waits as a standby for as long as it runs: while another
 * bridge streams from the slot (55006), it tries again every `retryMs`, so it
 * takes over within about that time of the other's death (its server process
 * ends as soon as it sees the connection gone). PostgreSQL lets one
 * connection at a time stream from a slot, so two bridges never both stream.
 */
export async function waitForSlot(connect: () => Promise<void>, options: { retryMs: number; stopped: () => boolean; logger: Logger }): Promise<void> {
  let waiting = false;
  for (;;) {
    try {
      await connect();
      if (waiting) options.logger.warn({}, "took over the replication slot");
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== OBJECT_IN_USE || options.stopped()) throw err;
      if (!waiting) options.logger.warn({}, "the replication slot is in use by another bridge: waiting as a standby");
      waiting = true;
    }
    await new Promise((resolve) => setTimeout(resolve, options.retryMs));
    if (options.stopped()) return;
  }
}
