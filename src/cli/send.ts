import { parseArgs } from "node:util";
import { createClient } from "../client/client.js";
import { CommandRequestError } from "../client/request-error.js";
import { loadConfig } from "../config.js";
import { connectNats } from "../messaging/connection.js";
import type { StoredReply } from "../protocol/replies.js";
import { CliError } from "./cli-error.js";
import type { CliCommand, CliIo } from "./command.js";
import { natsOptionsFromConfig } from "./connection-options.js";
import { readJsonBody } from "./read-body.js";

const SUBJECT = /^([a-z0-9_]{1,64})\.cmd\.[a-z0-9_]{1,64}$/;

/** Exit codes: the reply's status decides, so scripts can branch without parsing. */
const EXIT = { committed: 0, error: 1, rejected: 2 } as const;

function printReply(reply: StoredReply, io: CliIo): void {
  const origin = `command ${reply.commandId}, key ${reply.idempotencyKey}${reply.duplicate ? ", replayed duplicate" : ""}`;
  if (reply.status === "rejected") {
    io.out(`rejected: ${reply.error.code}: ${reply.error.message} (${origin})`);
    return;
  }
  io.out(`committed (${origin}) at ${reply.committedAt}`);
  io.out(`result: ${JSON.stringify(reply.result)}`);
  for (const event of reply.events) io.out(`event: ${event.subject} ${event.id}`);
}

/** One line for an error, with the schema problems when there are some. */
function errorLine(err: CommandRequestError, subject: string, domain: string): string {
  if (err.code === "no_responders") {
    return `no worker serves ${subject} (no responders after ${err.attempts} attempt(s)); is a worker of domain "${domain}" running?`;
  }
  if (err.code === "timeout") return err.message;
  const details = Array.isArray(err.details)
    ? (err.details as Array<{ path?: unknown[]; message?: string }>).map((d) => `${d.path?.length ? d.path.join(".") : "(body)"}: ${d.message}`)
    : [];
  return [`${err.code} (${err.status}): ${err.message}`, ...details].join("; ");
}

function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1) throw new CliError(`--timeout must be a whole number of milliseconds >= 1, got "${value}"`);
  return ms;
}

export const sendCommand: CliCommand = {
  name: "send",
  summary: "send one command request and print its reply",
  usage: "herald send <subject> <json|@file|-> [--key <key>] [--timeout <ms>] [--json]",
  help: `Sends a command to <subject> (<domain>.cmd.<command>, e.g. bank.cmd.transfer)
with an Idempotency-Key and prints the reply. The body is JSON given inline,
read from a file (@path) or from standard input (-). Retries with the same key
on timeout, no responders and 503 replies, like the client library.

Exit status: 0 committed, 2 rejected (a business rule said no), 1 error.

Options:
  --key <key>      Idempotency-Key to send (default: a random UUID); reuse it to retry safely
  --timeout <ms>   time to wait for each attempt's reply (default 15000)
  --json           print the reply as one line of JSON
  -h, --help       show this help

Example:
  herald send bank.cmd.open_account '{"accountId":"alice","owner":"Alice","initialBalance":100}'`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { key: { type: "string" }, timeout: { type: "string" }, json: { type: "boolean", default: false } },
      allowPositionals: true,
      strict: true,
    });
    const [subject, bodySpec, ...extra] = positionals;
    if (!subject || bodySpec === undefined || extra.length > 0) throw new CliError(`usage: ${sendCommand.usage}`);
    const domain = SUBJECT.exec(subject)?.[1];
    if (!domain) throw new CliError(`subject "${subject}" is not <domain>.cmd.<command> (lowercase a-z, 0-9 and _)`);
    const timeoutMs = parseTimeout(values.timeout);
    const body = await readJsonBody(bodySpec, io.cwd);
    const config = loadConfig();

    const nc = await connectNats({ ...natsOptionsFromConfig(config, { domain, role: "client" }), name: "herald-send" }).catch((err: unknown) => {
      throw new CliError(`cannot reach NATS at ${config.NATS_URL}`, 1, { cause: err });
    });
    try {
      const client = createClient(nc, { domain, timeoutMs });
      const reply = await client.sendRaw(subject, body, { idempotencyKey: values.key });
      if (values.json) io.out(JSON.stringify(reply));
      else printReply(reply, io);
      return EXIT[reply.status];
    } catch (err) {
      if (!(err instanceof CommandRequestError)) throw err;
      if (values.json) io.out(JSON.stringify(err.toReply()));
      io.err(`herald send: ${errorLine(err, subject, domain)}`);
      return EXIT.error;
    } finally {
      await nc.close().catch(() => undefined);
    }
  },
};
