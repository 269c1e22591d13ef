import { parseArgs } from "node:util";
import { eventSubject } from "../protocol/subjects.js";
import { cdcNatsRole } from "../security/cdc-role.js";
import { consoleNatsRole } from "../security/console-role.js";
import { assertDomainName } from "../security/naming.js";
import { natsAuthorizationJson, renderNatsAuthorization } from "../security/nats-config-render.js";
import { domainPermissions } from "../security/nats-permissions.js";
import type { CliCommand } from "./command.js";
import { loadApp } from "./load-app.js";

export const permissionsCommand: CliCommand = {
  name: "permissions",
  summary: "print the NATS authorization a domain's worker, clients and consumers need",
  usage: "herald permissions [--domain <name>] [--app <module>] [--stream <name>] [--consumer <durable>]... [--json]",
  help: `Prints a nats-server \`authorization { users = [...] }\` block with one user per
role of the domain, each allowed what its job needs and nothing more:

  herald_<domain>_worker    takes <domain>.cmd.> in its queue groups, replies,
                            publishes <domain>.evt.>, looks up or creates its own stream,
                            answers $SRV discovery for its service
  herald_<domain>_client    sends <domain>.cmd.> requests
  herald_<domain>_consumer_<durable>
                            reads the stream through its own durable consumer

Passwords are references to environment variables of the nats-server process
(e.g. $HERALD_BANK_WORKER_PASSWORD); no secret is printed. The worker's user
name is also its database role (see \`herald grants\`, \`herald audit\`).

Options:
  --domain <name>       domain (default: the app's)
  --app <module>        app whose commands and events to list (default: the bank domain)
  --stream <name>       JetStream stream (default: <DOMAIN>_EVENTS)
  --consumer <durable>  durable consumer to make a role for; repeatable (default: reader)
  --cdc                 also a herald_<domain>_cdc user for the CDC bridge: publishes only
                        <domain>.cdc.> and manages its stream (<DOMAIN>_CDC)
  --console             also a herald_<domain>_console user for the operator console:
                        $SRV discovery, stream and consumer info, ephemeral readers
  --console-actions     the same user may also republish <domain>.evt.> (redrive, replay)
  --json                print JSON instead of the config block
  -h, --help            show this help`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        domain: { type: "string" },
        app: { type: "string" },
        stream: { type: "string" },
        consumer: { type: "string", multiple: true },
        cdc: { type: "boolean", default: false },
        console: { type: "boolean", default: false },
        "console-actions": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    // Refuse a bad name before loading anything.
    if (values.domain !== undefined) assertDomainName(values.domain);
    const app = await loadApp(values.app, io.cwd);
    const domain = values.domain ?? app.domain;
    const permissions = domainPermissions({
      domain,
      stream: values.stream,
      consumers: values.consumer,
      commands: app.commands.map((c) => c.name),
      events: [...new Set(app.commands.flatMap((c) => Object.keys(c.events).map((e) => eventSubject(domain, e))))],
    });
    const extra = [
      ...(values.cdc ? [cdcNatsRole({ domain })] : []),
      ...(values.console || values["console-actions"] ? [consoleNatsRole({ domain, stream: values.stream, actions: values["console-actions"] })] : []),
    ];
    const withCdc = { ...permissions, roles: [...permissions.roles, ...extra] };
    io.out(values.json ? JSON.stringify(natsAuthorizationJson(withCdc), null, 2) : renderNatsAuthorization(withCdc));
    return 0;
  },
};
