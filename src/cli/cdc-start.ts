import { jetstreamManager } from "@nats-io/jetstream";
import { loadConfig } from "../config.js";
import { createCdcBridge } from "../cdc/bridge.js";
import type { ChangeSource } from "../cdc/change-source.js";
import { cockroachSourceOptions } from "../cdc/cockroach-config.js";
import { createCockroachSource } from "../cdc/cockroach-source.js";
import { createPostgresSource } from "../cdc/postgres-source.js";
import { connectNats } from "../messaging/connection.js";
import { createStreamPublisher } from "../messaging/stream-publisher.js";
import { ensureStream } from "../messaging/stream.js";
import { createLogger } from "../telemetry/logger.js";
import { startTelemetry } from "../telemetry/sdk.js";
import { CliError } from "./cli-error.js";
import { CDC_OPTIONS, cdcSettings } from "./cdc-options.js";
import type { CliCommand } from "./command.js";
import { natsOptionsFromConfig } from "./connection-options.js";
import { EXIT, parseCli, resolveDomain } from "./ops-support.js";

/** A stream subject that takes every `<domain>.cdc.>` subject. */
const covers = (subjects: readonly string[], domain: string): boolean => subjects.some((s) => s === ">" || s === `${domain}.>` || s === `${domain}.cdc.>`);

export const cdcStartCommand: CliCommand = {
  name: "start",
  summary: "run the CDC bridge: stream committed row changes into JetStream until SIGTERM",
  usage: "herald cdc start [--domain <name>] [--source postgres|cockroachdb] --table <name>... [--slot <name>] [--publication <name>] [--stream <name>]",
  help: `Reads the database's committed row changes (PostgreSQL: logical replication
slot, pgoutput; CockroachDB: a changefeed posting to this process over HTTPS) and publishes each to <domain>.cdc.<table>.<insert|update|delete>
(and <domain>.cdc.<table>.truncate for a TRUNCATE)
in the CDC stream (created when missing, subjects <domain>.cdc.>). The slot's
position (or the changefeed's 2xx) moves only after JetStream acked every
change before it. Watched tables the publication lacks are added when the
user may, else it refuses to start and prints the ALTER PUBLICATION to run.
While another bridge streams from the slot it waits as a standby and takes
over when that one dies. Prints one line when ready; on SIGTERM or SIGINT it
finishes the publishes in flight, acks them and stops.

Options:
  --domain <name>        domain of the subjects (default: HERALD_DOMAIN)
  --source <name>        postgres or cockroachdb (default: HERALD_CDC_SOURCE); cockroachdb
                         serves the changefeed's webhook-https sink (HERALD_CDC_WEBHOOK_* settings)
  --table <name>         table to watch; repeatable or comma separated (default: HERALD_CDC_TABLES)
  --slot <name>          replication slot (default: HERALD_CDC_SLOT, herald_cdc)
  --publication <name>   publication (default: HERALD_CDC_PUBLICATION, herald_cdc)
  --stream <name>        JetStream stream (default: HERALD_CDC_STREAM or <DOMAIN>_CDC)
  -h, --help             show this help`,
  async run(argv, io) {
    const { values } = parseCli(argv, CDC_OPTIONS);
    const config = loadConfig();
    // A bridge may serve a database without commands, so its domain is never guessed from one.
    if (values.domain === undefined && config.HERALD_DOMAIN === undefined) throw new CliError("--domain is required (or set HERALD_DOMAIN)", EXIT.usage);
    const domain = await resolveDomain(values.domain, config);
    const settings = cdcSettings(values, config, domain);
    const natsOptions = natsOptionsFromConfig(config, { domain, role: "cdc" });
    const logger = createLogger({ level: config.LOG_LEVEL });
    const telemetry = await startTelemetry(config, { serviceName: `herald-cdc-${domain}`, logger });
    const nc = await connectNats({ ...natsOptions, name: `herald-cdc-${domain}`, logger });
    try {
      const info = await ensureStream(await jetstreamManager(nc), { name: settings.stream, subjects: [settings.subjects], duplicateWindowMs: config.HERALD_CDC_DUPLICATE_WINDOW_MS });
      if (!covers(info.config.subjects ?? [], domain)) {
        throw new CliError(`stream ${settings.stream} does not take ${settings.subjects}; add that subject to it or name another --stream`);
      }
    } catch (err) {
      await nc.close();
      await telemetry.shutdown();
      throw err;
    }
    let source: ChangeSource;
    /** What the ready line says of the source; the webhook's address is known once it listens. */
    let describe: () => string;
    try {
      if (settings.source === "cockroachdb") {
        const webhook = createCockroachSource(await cockroachSourceOptions(config, settings.tables, logger));
        source = webhook;
        describe = () => `source=cockroachdb webhook=${webhook.address().host}:${webhook.address().port}`;
      } else {
        source = createPostgresSource({ ...settings.target, slot: settings.slot, publication: settings.publication, tables: settings.tables, logger });
        describe = () => `source=postgres slot=${settings.slot}`;
      }
    } catch (err) {
      await nc.close();
      await telemetry.shutdown();
      throw err instanceof TypeError ? new CliError(err.message, EXIT.usage, { cause: err }) : err;
    }
    const bridge = createCdcBridge({ publisher: createStreamPublisher(nc), source, domain, maxInFlight: config.HERALD_CDC_MAX_IN_FLIGHT, logger });
    // A standby waits in start() for as long as another bridge holds the slot; a stop signal ends the wait.
    let signal: string | undefined;
    try {
      signal = await Promise.race([bridge.start().then(() => undefined), io.stopSignal]);
    } catch (err) {
      await nc.close();
      await telemetry.shutdown();
      throw err;
    }
    if (signal === undefined) {
      io.out(`herald cdc ready: domain=${domain} ${describe()} tables=${settings.tables.join(",")} stream=${settings.stream}`);
      signal = await io.stopSignal;
    }
    logger.info({ signal }, "stopping");
    await bridge.stop();
    await nc.drain().catch(() => undefined);
    await telemetry.shutdown();
    const s = bridge.stats();
    io.err(`herald cdc stopped (${signal}): ${s.published} change(s) published, ${s.duplicates} duplicate(s) dropped, at most ${s.peakPublishing} awaiting their PubAck at once`);
    return EXIT.ok;
  },
};
