import assert from "node:assert/strict";
import { test } from "node:test";
import { withinDomain } from "../../src/identity/identity-audit.js";
import { operatorNatsRole } from "../../src/identity/roles.js";
import { appliedService } from "../../src/protocol/applied.js";
import { domainServices } from "../../src/protocol/services.js";
import { domainStreams } from "../../src/protocol/streams.js";
import { auditSecurity } from "../../src/security/audit.js";
import { cdcNatsRole } from "../../src/security/cdc-role.js";
import { consoleNatsRole } from "../../src/security/console-role.js";
import { domainPermissions, type NatsRole } from "../../src/security/nats-permissions.js";

// Every role Herald generates stays within its domain as both audits define it:
// the identity audit's `beyond-domain` (withinDomain, over the shared stream and
// service names) and the regular audit's scope checks.
const domain = "bank";
const streams = domainStreams(domain);
const roles: NatsRole[] = [
  ...domainPermissions({ domain, consumers: ["ledger", "mailer"] }).roles,
  cdcNatsRole({ domain }),
  consoleNatsRole({ domain }),
  consoleNatsRole({ domain, actions: true }),
  operatorNatsRole(domain),
];
const subjectsOf = (r: NatsRole) => [...r.publish.allow, ...r.subscribe.allow];

test("the domain's streams and services come from one place", () => {
  assert.deepEqual(streams, ["BANK_EVENTS", "BANK_DLQ", "BANK_CDC"]);
  assert.deepEqual(domainStreams(domain, { stream: "LEDGER", cdcStream: "ROWS" }), ["LEDGER", "BANK_DLQ", "ROWS"]);
  assert.deepEqual(domainServices(domain), ["bank", "bank-applied"]);
  assert.equal(appliedService(domain), "bank-applied");
});

test("every subject of every generated role is within its domain", () => {
  for (const role of roles) {
    const outside = subjectsOf(role).filter((s) => !withinDomain(s, domain, streams));
    assert.deepEqual(outside, [], `${role.user} reaches beyond ${domain}`);
  }
  const consumer = roles.find((r) => r.durable === "ledger")!;
  assert.ok(consumer.subscribe.allow.includes("$SRV.PING.bank-applied"), "the consumer answers discovery of its domain's applied service");
  assert.ok(consumer.publish.allow.includes("$JS.API.STREAM.CREATE.BANK_DLQ"));
});

test("another domain's streams and services, and a shared service name, are beyond the domain", () => {
  for (const subject of [
    "$JS.API.STREAM.CREATE.ORDERS_DLQ",
    "$JS.API.STREAM.INFO.ORDERS_EVENTS",
    "$SRV.PING.orders",
    "$SRV.INFO.orders-applied",
    "$SRV.STATS.orders-applied.*",
    "$SRV.PING.herald_applied",
    "$SRV.PING.bank_applied",
    "$SRV.>",
    "orders.applied.*",
  ]) {
    assert.equal(withinDomain(subject, domain, streams), false, subject);
  }
});

test("the regular audit finds nothing in the generated roles of a domain whose worker holds its grants", () => {
  const worker = roles.find((r) => r.role === "worker")!;
  const findings = auditSecurity({
    domains: [{ domain, tables: [] }],
    heraldTables: [],
    users: roles.map((r) => ({ name: r.user, account: "$G", publish: { allow: [...r.publish.allow] }, subscribe: { allow: [...r.subscribe.allow] }, allowResponses: r.allowResponses })),
    database: { roles: new Set([worker.user]), tables: [], grants: new Map() },
  });
  assert.deepEqual(findings, []);
});
