import { eventJson, formatEventLine, readEvents } from "../operations/events.js";
import { parseEventSubject } from "../operations/inputs.js";
import type { CliCommand } from "./command.js";
import { loadOpsConfig, operation, operationSync, parseCli, resolveDomain, resolveStream, withNats } from "./ops-support.js";

export const eventsCommand: CliCommand = {
  name: "events",
  summary: "print a domain's confirmed events from its stream",
  usage: "herald events [--domain <name>] [--subject <s>] [--stream <name>] [--follow] [--json]",
  help: `Prints the events stored in the domain's JetStream stream, oldest first, one
line each: stream sequence, ce-time, subject, ce-id, command id, data. Reads
through an ordered consumer, which leaves no consumer state behind. Without
--follow it stops at the end of the stream.

Options:
  --domain <name>   domain (default: HERALD_DOMAIN, else the database's only one)
  --subject <s>     an event name (transferred) or a subject filter (bank.evt.*)
  --stream <name>   stream (default: HERALD_STREAM or <DOMAIN>_EVENTS)
  --follow          keep printing new events until SIGINT/SIGTERM
  --json            one JSON object per line, headers included
  -h, --help        show this help

Exit codes: 0 done, 1 failure (no such stream), 2 bad usage.`,
  async run(argv, io) {
    const { values } = parseCli(argv, {
      domain: { type: "string" },
      subject: { type: "string" },
      stream: { type: "string" },
      follow: { type: "boolean" },
      json: { type: "boolean" },
    });
    const config = loadOpsConfig();
    const domain = await resolveDomain(values.domain, config);
    const subject = values.subject === undefined ? undefined : operationSync(() => parseEventSubject(domain, values.subject!));
    const stream = resolveStream(values.stream, config, domain);
    const count = await withNats(config, "events", (nc) =>
      operation(() =>
        readEvents({
          nc,
          stream,
          subject,
          follow: values.follow ?? false,
          until: io.stopSignal,
          onEvent: (e) => io.out(values.json ? eventJson(e) : formatEventLine(e)),
        }),
      ),
    );
    if (!values.json) io.err(`${count} event(s) from ${stream}`);
    return 0;
  },
};
