import type { z } from "zod";
import type { HeraldApp } from "../commands/define-app.js";
import { createRegistry } from "../commands/registry.js";
import { eventSubject } from "../protocol/subjects.js";
import { assertDomainName } from "../security/naming.js";
import { domainPermissions } from "../security/nats-permissions.js";
import { payloadSchema } from "./payload-schema.js";
import { committedPayload, errorHeaders, errorPayload, eventHeaders, rejectedHeaders, rejectedPayload, requestHeaders } from "./protocol-schemas.js";
import { natsServers, roleSchemeId, roleSecuritySchemes } from "./servers.js";

/** AsyncAPI version the document follows. */
export const ASYNCAPI_VERSION = "3.0.0";

export interface AsyncApiOptions {
  /** The app whose registry drives the worker. Required. */
  app: HeraldApp;
  /** Domain the app is served under (`herald start --domain`). Default: the app's. */
  domain?: string;
  /** NATS_URL: one or more comma-separated server URLs. Required. */
  natsUrl: string;
  /** JetStream stream of the events. Default `<DOMAIN>_EVENTS`. */
  stream?: string;
  /** Durable consumers to describe a role for. Default `["reader"]`, as `herald permissions`. */
  consumers?: readonly string[];
}

type Doc = Record<string, unknown>;
const ref = (path: string): Doc => ({ $ref: `#/${path}` });

/**
 * An AsyncAPI 3.0 document of one domain, from the client's side: it sends each
 * command as a request and gets one reply (committed, rejected or error), and
 * receives the events from the domain's stream. Built from the same registry
 * and permissions as the worker and `herald permissions`, so it cannot disagree
 * with them. Throws a SchemaExportError for a schema JSON Schema cannot express.
 */
export function buildAsyncApiDocument(options: AsyncApiOptions): Doc {
  const { app } = options;
  const domain = assertDomainName(options.domain ?? app.domain);
  const registry = createRegistry(domain, app.commands);
  const events = new Map<string, { schema: z.ZodType; emittedBy: string[] }>();
  for (const command of registry.list()) {
    for (const [name, schema] of Object.entries(command.events as Record<string, z.ZodType>)) {
      const entry = events.get(name) ?? { schema, emittedBy: [] };
      entry.emittedBy.push(command.name);
      events.set(name, entry);
    }
  }
  const permissions = domainPermissions({
    domain,
    stream: options.stream,
    consumers: options.consumers,
    commands: registry.list().map((c) => c.name),
    events: [...events.keys()].map((e) => eventSubject(domain, e)),
  });
  const schemes = roleSecuritySchemes(permissions);
  const clientScheme = roleSchemeId(permissions.roles.find((r) => r.role === "client")!);
  const consumerSchemes = permissions.roles.filter((r) => r.role === "consumer").map(roleSchemeId);

  const channels: Doc = {};
  const operations: Doc = {};
  const messages: Doc = {
    committed_reply: { name: "committed", title: "Committed", summary: "The command took effect.", contentType: "application/json", payload: committedPayload },
    rejected_reply: {
      name: "rejected",
      title: "Rejected (422)",
      summary: "A business rule refused the command; stored under the key and replayed.",
      contentType: "application/json",
      headers: rejectedHeaders,
      payload: rejectedPayload,
    },
    error_reply: {
      name: "error",
      title: "Error",
      summary: "The request was not processed and nothing was stored; error.code says whether to retry.",
      contentType: "application/json",
      headers: errorHeaders,
      payload: errorPayload,
    },
  };
  const replies = { committed: ref("components/messages/committed_reply"), rejected: ref("components/messages/rejected_reply"), error: ref("components/messages/error_reply") };

  for (const command of registry.list()) {
    const subject = registry.subjectOf(command);
    const emits = Object.keys(command.events).map((e) => eventSubject(domain, e));
    messages[`${command.name}_request`] = {
      name: command.name,
      title: `${command.name} request`,
      ...(command.description ? { summary: command.description } : {}),
      contentType: "application/json",
      headers: requestHeaders,
      payload: payloadSchema(command.input, `${subject} (input)`, "input"),
    };
    channels[command.name] = {
      address: subject,
      title: `${command.name} command`,
      description: `Requests to the ${command.name} command, served by the ${domain} workers' queue group.${emits.length ? ` Emits ${emits.join(", ")}.` : ""}`,
      messages: { request: ref(`components/messages/${command.name}_request`) },
    };
    // The reply goes to the request's inbox, which the requester picks: no fixed address.
    channels[`${command.name}_reply`] = { address: null, title: `${command.name} replies`, description: "The requester's inbox (_INBOX.>).", messages: replies };
    operations[`send_${command.name}`] = {
      action: "send",
      title: `Send ${command.name}`,
      ...(command.description ? { summary: command.description } : {}),
      channel: ref(`channels/${command.name}`),
      messages: [ref(`channels/${command.name}/messages/request`)],
      reply: {
        channel: ref(`channels/${command.name}_reply`),
        messages: Object.keys(replies).map((r) => ref(`channels/${command.name}_reply/messages/${r}`)),
      },
      security: [ref(`components/securitySchemes/${clientScheme}`)],
    };
  }

  for (const [name, { schema, emittedBy }] of events) {
    const subject = eventSubject(domain, name);
    messages[`${name}_event`] = {
      name,
      title: `${name} event`,
      summary: `Emitted by ${emittedBy.join(", ")} after commit.`,
      contentType: "application/json",
      headers: eventHeaders(domain, name),
      payload: payloadSchema(schema, `${subject} (data)`, "output"),
    };
    channels[`${name}_event`] = {
      address: subject,
      title: `${name} events`,
      description: `Confirmed ${name} events, captured by the JetStream stream ${permissions.stream}; at least once on the wire, exactly once by ce-id.`,
      messages: { event: ref(`components/messages/${name}_event`) },
    };
    operations[`receive_${name}`] = {
      action: "receive",
      title: `Receive ${name}`,
      summary: `Read from ${permissions.stream} through a durable consumer; an inbox keyed by ce-id makes processing exactly once.`,
      channel: ref(`channels/${name}_event`),
      messages: [ref(`channels/${name}_event/messages/event`)],
      security: consumerSchemes.map((id) => ref(`components/securitySchemes/${id}`)),
    };
  }

  return {
    asyncapi: ASYNCAPI_VERSION,
    info: {
      title: `Herald ${domain} domain`,
      version: app.version ?? "1.0.0",
      description: [
        app.description ?? `Herald commands for ${domain}`,
        "",
        `Seen from a client: it sends each command of \`${domain}.cmd.<command>\` as a NATS request and gets one reply`,
        `(committed, rejected or error), and receives the confirmed events of \`${domain}.evt.<event>\` from the stream ${permissions.stream}.`,
        "Wire protocol: Herald protocol version 1 (docs/protocol.md). Payload schemas are the commands' and events' zod schemas",
        "as JSON Schema; cross-field rules (refinements) have no JSON Schema form and are checked by the worker only.",
      ].join("\n"),
    },
    defaultContentType: "application/json",
    servers: natsServers(options.natsUrl, Object.keys(schemes)),
    channels,
    operations,
    components: { messages, securitySchemes: schemes },
  };
}
