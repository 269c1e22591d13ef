import assert from "node:assert/strict";
import { test } from "node:test";
import { renderNatsAuthorization } from "../../src/security/nats-config-render.js";
import { NatsConfigSyntaxError, parseNatsConfig } from "../../src/security/nats-config-parser.js";
import { domainPermissions } from "../../src/security/nats-permissions.js";
import { natsUsersFromConfig } from "../../src/security/nats-users.js";
import { covers, intersect, isUnscoped, reaches } from "../../src/security/subject-patterns.js";

test("the generated authorization block reads back as the same users and permissions", () => {
  const permissions = domainPermissions({ domain: "bank", consumers: ["ledger", "mail-out"] });
  const users = natsUsersFromConfig(parseNatsConfig(renderNatsAuthorization(permissions)));
  assert.deepEqual(
    users.map((u) => ({ name: u.name, publish: u.publish.allow, subscribe: u.subscribe.allow, responses: u.allowResponses })),
    permissions.roles.map((r) => ({ name: r.user, publish: r.publish.allow, subscribe: r.subscribe.allow, responses: r.allowResponses })),
  );
  assert.ok(users.every((u) => u.account === "$G"));
});

test("nats-server's config syntax: separators, comments, variables, quoting, accounts", () => {
  const text = `
# top comment
listen: 127.0.0.1:4222
http = 8222 // trailing comment
server_name: "n1"; max_payload: 1MB
leafnodes { remotes = [ { url: "nats-leaf://x:7422" } ] }
authorization {
  ADMIN = { publish = ">" subscribe = ">" }
  REQ = {
    publish = ["req.a", "req.b"],
    subscribe = "_INBOX.>"
  }
  default_permissions = { publish: "public.>" }
  users = [
    {user: admin, password: $ADMIN_PASS, permissions: $ADMIN}
    {user: 'req', password: "p\\"w#not-a-comment", permissions: $REQ},
    {user: anon password: x}
  ]
}
accounts {
  A: {
    users: [
      { user: a1, password: a, permissions: { publish: { allow: ["a.>"], deny: "a.secret" }, subscribe: [a.>, "a.q.> workers"], allow_responses: { max: 1 } } }
    ]
  }
  B { users = [ { nkey: UABCDEF } ] ; jetstream: enabled }
}
cluster { authorization { user: route, password: pw } }
`;
  const config = parseNatsConfig(text);
  assert.equal(config.listen, "127.0.0.1:4222");
  assert.equal(config.http, 8222);
  assert.equal(config.max_payload, "1MB");
  assert.deepEqual((config.leafnodes as any).remotes[0].url, "nats-leaf://x:7422");
  const users = natsUsersFromConfig(config);
  const byName = Object.fromEntries(users.map((u) => [u.name, u]));
  assert.deepEqual(Object.keys(byName), ["admin", "req", "anon", "a1", "UABCDEF"]);
  assert.deepEqual(byName.admin!.publish, { allow: [">"] });
  assert.deepEqual(byName.req!.publish, { allow: ["req.a", "req.b"] });
  assert.deepEqual(byName.req!.subscribe, { allow: ["_INBOX.>"] });
  // A user without permissions gets its block's default_permissions.
  assert.deepEqual(byName.anon!.publish, { allow: ["public.>"] });
  assert.deepEqual(byName.anon!.subscribe, {});
  assert.equal(byName.a1!.account, "A");
  assert.deepEqual(byName.a1!.publish, { allow: ["a.>"], deny: ["a.secret"] });
  assert.deepEqual(byName.a1!.subscribe, { allow: ["a.>", "a.q.> workers"] });
  assert.equal(byName.a1!.allowResponses, true);
  assert.deepEqual(byName.UABCDEF!.publish, {});
  // The password variable was not defined in the file: it stays a reference.
  assert.deepEqual((config.authorization as any).users[0].password, { variable: "ADMIN_PASS" });
  assert.equal((config.authorization as any).users[1].password, 'p"w#not-a-comment');
});

test("a server without authorization lets anyone do anything; errors name the line", () => {
  assert.deepEqual(natsUsersFromConfig(parseNatsConfig("port: 4222\njetstream {}\n")).map((u) => u.name), ["(anonymous)"]);
  assert.deepEqual(natsUsersFromConfig(parseNatsConfig("authorization { token: $SECRET }")).map((u) => u.name), ["(token)"]);

  assert.throws(() => parseNatsConfig("a {\n  b: [1, 2\n"), (err: unknown) => err instanceof NatsConfigSyntaxError && /missing "]"/.test(err.message));
  assert.throws(() => parseNatsConfig('a: "open\n'), /unterminated string at line 1/);
  assert.throws(() => parseNatsConfig("include ./other.conf\n"), /include is not supported/);
  assert.throws(() => parseNatsConfig("a {\n b: 1\n}\n}"), /unexpected "}" where a key was expected at line 4/);
});

test("subject patterns: overlap, cover, reach through allow and deny, unscoped", () => {
  assert.equal(intersect("bank.evt.>", "*.evt.transferred"), "bank.evt.transferred");
  assert.equal(intersect(">", "bank.evt.>"), "bank.evt.>");
  assert.equal(intersect("bank.*", "bank.evt.>"), undefined);
  assert.equal(intersect("bank.cmd.>", "bank.evt.>"), undefined);
  assert.equal(intersect("a.*.c", "a.b.*"), "a.b.c");

  assert.ok(covers("bank.>", "bank.evt.>"));
  assert.ok(covers("*.evt.*", "bank.evt.x"));
  assert.ok(!covers("bank.evt.*", "bank.evt.>"));
  assert.ok(!covers("bank.evt.x", "bank.evt.*"));

  assert.ok(reaches({}, "bank.evt.>"), "no allow list reaches everything");
  assert.ok(reaches({ allow: ["bank.evt.transferred"] }, "bank.evt.>"));
  assert.ok(!reaches({ allow: [">"], deny: ["bank.>"] }, "bank.evt.>"));
  assert.ok(reaches({ allow: [">"], deny: ["bank.evt.x"] }, "bank.evt.>"), "a partial deny leaves the rest");
  assert.ok(reaches({ allow: ["bank.cmd.> herald-bank"] }, "bank.cmd.>"), "queue group suffix ignored");
  assert.ok(!reaches({ allow: [] }, "bank.evt.>"));

  for (const p of [">", "*.>", "*.evt.>", "* q"]) assert.ok(isUnscoped(p), p);
  for (const p of ["bank.>", "_INBOX.>", "$JS.API.INFO"]) assert.ok(!isUnscoped(p), p);
});

test("names reaching the config are validated", () => {
  assert.throws(() => domainPermissions({ domain: "bank.>" }), /domain "bank.>" must be/);
  assert.throws(() => domainPermissions({ domain: "bank", stream: "S.>" }), /stream "S.>" must be/);
  assert.throws(() => domainPermissions({ domain: "bank", consumers: ['x" ] } #'] }), /consumer .* must be/);
});
