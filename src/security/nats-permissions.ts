import { deadLetterSubject } from "../consumer/dead-letter.js";
import { appliedQueue, appliedService, appliedSubject } from "../protocol/applied.js";
import { discoverySubjects } from "../protocol/services.js";
import { defaultDeadLetterStream } from "../protocol/streams.js";
import { defaultStreamName, eventWildcard, queueGroup } from "../protocol/subjects.js";
import { assertDomainName, assertJetStreamName, clientUser, consumerUser, DEFAULT_DURABLE, workerUser } from "./naming.js";

/** What one NATS user of a domain may do, and nothing more. */
export interface NatsRole {
  /** `worker`, `client`, `consumer`, `cdc` (the CDC bridge, src/security/cdc-role.ts) or `console` (src/security/console-role.ts). */
  readonly role: "worker" | "client" | "consumer" | "cdc" | "console";
  /** NATS user name (the worker's is also its database role). */
  readonly user: string;
  /** One line on what the user is for. */
  readonly description: string;
  /** Durable consumer name, for consumer roles. */
  readonly durable?: string;
  readonly publish: { readonly allow: readonly string[] };
  /** Entries may carry a queue group after a space, as nats-server reads them. */
  readonly subscribe: { readonly allow: readonly string[] };
  /** May publish once to the reply subject of each request it receives. */
  readonly allowResponses: boolean;
}

/** The NATS authorization of one domain. */
export interface DomainPermissions {
  readonly domain: string;
  readonly stream: string;
  /** Command names from the app's registry, for the record. */
  readonly commands: readonly string[];
  /** Event subjects the commands may emit, for the record. */
  readonly events: readonly string[];
  readonly roles: readonly NatsRole[];
}

export interface DomainPermissionsOptions {
  /** Domain name. Required. */
  domain: string;
  /** JetStream stream of its events. Default `<DOMAIN>_EVENTS`. */
  stream?: string;
  /** Command names (from the app). Default: none listed. */
  commands?: readonly string[];
  /** Event subjects (from the app). Default: none listed. */
  events?: readonly string[];
  /** Durable names of the event consumers to give a role each. Default `["reader"]`. */
  consumers?: readonly string[];
}

/** Requests' replies come back on the connection's inbox; every role makes requests. */
const INBOX = "_INBOX.>";
// No role gets `$JS.API.INFO` (account usage and limits): Herald opens its
// JetStream managers without nats.js's account check (openStreamManager).

/**
 * Builds the least NATS authorization each role of a domain needs:
 * - worker: takes `<d>.cmd.>` only in its queue groups, answers requesters
 *   (allow_responses), publishes `<d>.evt.>`, looks up or creates its own
 *   stream, answers discovery for its own service;
 * - client: sends `<d>.cmd.>` requests, and asks consumers whether they applied them;
 * - consumer: reads and acks through its own durable consumer only, announces
 *   its dead letters (and keeps them in `<D>_DLQ`, which it creates when missing:
 *   a consumer without a database may start before any worker), and answers
 *   `<d>.applied.<durable>` and discovery of the domain's `<d>-applied` service.
 * Every subject is one of the domain's own (src/protocol/streams.ts, services.ts).
 */
export function domainPermissions(options: DomainPermissionsOptions): DomainPermissions {
  const domain = assertDomainName(options.domain);
  const stream = assertJetStreamName("stream", options.stream ?? defaultStreamName(domain));
  const durables = [...new Set(options.consumers?.length ? options.consumers : [DEFAULT_DURABLE])].map((d) => assertJetStreamName("consumer", d));
  const commandTree = `${domain}.cmd.>`;
  const api = "$JS.API";

  const worker: NatsRole = {
    role: "worker",
    user: workerUser(domain),
    description: `serves ${commandTree} and publishes ${eventWildcard(domain)} into ${stream}`,
    publish: { allow: [eventWildcard(domain), `${api}.STREAM.INFO.${stream}`, `${api}.STREAM.CREATE.${stream}`] },
    subscribe: {
      allow: [
        // Endpoints and the unknown-command catch-all each have their queue group.
        `${commandTree} ${queueGroup(domain)}`,
        `${commandTree} ${queueGroup(domain)}-unknown`,
        ...discoverySubjects(domain),
        // Replies to its stream lookups and the PubAcks of its events.
        INBOX,
      ],
    },
    allowResponses: true,
  };
  const client: NatsRole = {
    role: "client",
    user: clientUser(domain),
    description: `sends ${commandTree} requests`,
    publish: {
      allow: [
        commandTree,
        // `awaitConsumers`: looks the durables up, then asks them whether they applied a command.
        `${api}.CONSUMER.INFO.${stream}.*`,
        appliedSubject(domain, "*"),
      ],
    },
    subscribe: { allow: [INBOX] },
    allowResponses: false,
  };
  const consumers = durables.map(
    (durable): NatsRole => ({
      role: "consumer",
      user: consumerUser(domain, durable),
      description: `reads ${stream} through durable ${durable}`,
      durable,
      publish: {
        allow: [
          `${api}.CONSUMER.INFO.${stream}.${durable}`,
          `${api}.CONSUMER.CREATE.${stream}.${durable}`,
          `${api}.CONSUMER.CREATE.${stream}.${durable}.>`,
          `${api}.CONSUMER.MSG.NEXT.${stream}.${durable}`,
          `$JS.ACK.${stream}.${durable}.>`,
          // Dead letters of `consume()`; without a database they are kept in the DLQ stream.
          deadLetterSubject(domain, durable),
          `${api}.STREAM.INFO.${defaultDeadLetterStream(domain)}`,
          `${api}.STREAM.CREATE.${defaultDeadLetterStream(domain)}`,
        ],
      },
      subscribe: {
        allow: [
          INBOX,
          // Its "applied?" endpoint, in the durable's queue group, and discovery of that service.
          `${appliedSubject(domain, durable)} ${appliedQueue(domain, durable)}`,
          ...discoverySubjects(appliedService(domain)),
        ],
      },
      allowResponses: true,
    }),
  );
  return {
    domain,
    stream,
    commands: [...(options.commands ?? [])],
    events: [...(options.events ?? [])],
    roles: [worker, client, ...consumers],
  };
}
