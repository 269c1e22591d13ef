import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { loadConfig } from "../config.js";
import { buildAsyncApiDocument } from "../asyncapi/document.js";
import { SchemaExportError } from "../asyncapi/payload-schema.js";
import { formatOf, renderDocument } from "../asyncapi/render.js";
import { ServerUrlError } from "../asyncapi/servers.js";
import type { HeraldApp } from "../commands/define-app.js";
import { assertDomainName } from "../security/naming.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";
import { loadApp } from "./load-app.js";
import { EXIT, parseCli } from "./ops-support.js";

/** The app of `domain` among those loaded, or the only one; a usage error listing them otherwise. */
function pickApp(apps: readonly HeraldApp[], domain: string | undefined): HeraldApp {
  const domains = apps.map((a) => a.domain).join(", ");
  if (domain === undefined) {
    if (apps.length === 1) return apps[0]!;
    throw new CliError(`--domain is required: the apps serve several domains (${domains})`, EXIT.usage);
  }
  const app = apps.find((a) => a.domain === domain);
  if (!app) throw new CliError(`unknown domain "${domain}": the loaded app${apps.length === 1 ? " serves" : "s serve"} ${domains} (choose with --app)`, EXIT.usage);
  return app;
}

export const asyncapiCommand: CliCommand = {
  name: "asyncapi",
  summary: "write the AsyncAPI 3.0 document of a domain's commands, replies and events",
  usage: "herald asyncapi [--app <module>]... [--domain <name>] [--out <file.yaml|file.json>]",
  help: `Writes an AsyncAPI 3.0 document generated from the registry the worker
serves: a channel and a send operation with its reply (committed, rejected,
error with Herald's codes) per command subject, the request headers
(Idempotency-Key, traceparent), a channel per event subject with the
CloudEvents headers and Nats-Msg-Id, payload schemas from the zod schemas, the
servers of NATS_URL (host and port only) and one security scheme per NATS
role of \`herald permissions\`. A schema JSON Schema cannot express (a date, a
transform) is an error naming the command or event; nothing is written then.

Options:
  --app <module>    app to describe; repeatable (default: the bank domain)
  --domain <name>   which loaded app's domain (default: the only one)
  --out <file>      write here, YAML for .yaml/.yml, JSON for .json (default: YAML on stdout)
  -h, --help        show this help

Exit codes: 0 written, 1 failure, 2 bad usage.`,
  async run(argv, io) {
    const { values } = parseCli(argv, { app: { type: "string", multiple: true }, domain: { type: "string" }, out: { type: "string" } });
    const format = formatOf(values.out);
    if (!format) throw new CliError(`--out "${values.out}" must end in .yaml, .yml or .json`, EXIT.usage);
    if (values.domain !== undefined) {
      try {
        assertDomainName(values.domain);
      } catch (err) {
        throw new CliError((err as Error).message, EXIT.usage);
      }
    }
    const config = loadConfig();
    const specifiers = values.app?.length ? values.app : [undefined];
    const apps = await Promise.all(specifiers.map((s) => loadApp(s, io.cwd)));
    const app = pickApp(apps, values.domain);
    let text: string;
    try {
      text = renderDocument(buildAsyncApiDocument({ app, natsUrl: config.NATS_URL, stream: config.HERALD_STREAM }), format);
    } catch (err) {
      if (err instanceof SchemaExportError || err instanceof ServerUrlError) throw new CliError(err.message, EXIT.failed, { cause: err.cause });
      throw err;
    }
    if (values.out === undefined) {
      io.out(text.replace(/\n$/, ""));
      return EXIT.ok;
    }
    const path = resolve(io.cwd, values.out);
    try {
      await writeFile(path, text);
    } catch (err) {
      throw new CliError(`cannot write ${values.out}`, EXIT.failed, { cause: err });
    }
    io.err(`wrote the AsyncAPI document of ${app.domain} to ${values.out}`);
    return EXIT.ok;
  },
};
