import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { sql } from "kysely";
import type { BrowserContext, Page } from "playwright-core";
import { startConsole } from "../../src/console/server.js";
import { coreMigrationsFolder } from "../../src/db/migrator.js";
import { writableHeraldTables } from "../../src/operations/domains.js";
import { tablesInMigrations } from "../../src/security/sql-tables.js";
import { toNatsHeaders } from "../../src/messaging/nats-headers.js";
import { openStreamManager } from "../../src/messaging/stream.js";
import { uniqueKey } from "../kit/names.js";
import { waitFor } from "../kit/wait.js";
import { launchBrowser } from "./browser.js";
import { consoleRole, dropRoles, DURABLE, startConsoleFixture, type ConsoleFixture } from "./console-fixture.js";

let f: ConsoleFixture;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let context: BrowserContext;
let page: Page;
const key = uniqueKey("console");
const extraRoles: string[] = [];
const pageErrors: string[] = [];

const db = () => f.h.database.db;
const url = (path: string) => `${f.console.url}${path}`;
const base = () => `/d/${f.h.domain}`;

before(async () => {
  browser = await launchBrowser();
  context = browser.context;
  page = await context.newPage();
  // Every script and style must run under the console's Content Security Policy.
  page.on("console", (m) => void (m.type() === "error" && pageErrors.push(m.text())));
  page.on("pageerror", (e) => void pageErrors.push(e.message));
  f = await startConsoleFixture({ actions: true });
  for (const [id, k] of [["acct_a", key], ["acct_b", uniqueKey()], [f.poisonAccount, uniqueKey()]] as const) {
    assert.equal((await f.h.send("open_account", { accountId: id, owner: id }, { key: k })).body.status, "committed");
  }
  assert.equal((await f.h.send("deposit", { accountId: "acct_a", amount: 5 })).body.status, "committed");
  await waitFor(async () => (await db().selectFrom("herald_dead_letters").select("id").where("consumer", "=", DURABLE).execute()).length === 1 || undefined, { what: "the poison event dead-lettered" });
  await waitFor(async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM herald_outbox WHERE published_at IS NULL`.execute(db())).rows[0]!.n) === 0 || undefined, { what: "every event published" });
});
after(async () => {
  await browser?.close();
  await f?.close();
  await dropRoles(extraRoles);
});

test("a command found by its idempotency key shows its events with their stream sequence", async () => {
  await page.goto(url(`${base()}/commands`));
  await page.fill("input[name=q]", key);
  await page.click("text=Find");
  await page.waitForSelector("#command-key");
  assert.equal(await page.textContent("#command-key"), key);
  const stored = await db().selectFrom("herald_outbox as o").innerJoin("herald_commands as c", "c.id", "o.command_id").select(["o.subject", "o.stream_seq", "o.id", "c.trace_id"]).where("c.idempotency_key", "=", key).execute();
  assert.equal(stored.length, 1);
  const rows = await page.$$eval("#events tbody tr", (trs) => trs.map((tr) => tr.textContent ?? ""));
  assert.equal(rows.length, 1);
  assert.match(rows[0]!, new RegExp(`${f.h.domain}\\.evt\\.account_opened`));
  assert.match(rows[0]!, new RegExp(stored[0]!.id));
  assert.equal((await page.textContent("#events [data-col=seq]"))?.trim(), String(stored[0]!.stream_seq));
  assert.match(rows[0]!, /published/);
  if (stored[0]!.trace_id) assert.equal(await page.getAttribute("#jaeger", "href"), `http://jaeger.example:16686/trace/${stored[0]!.trace_id}`);
  // Unknown and malformed references: a clear 4xx.
  assert.equal((await page.goto(url(`${base()}/commands/no-such-key`)))!.status(), 404);
  assert.equal((await page.goto(url(`${base()}/commands?since=yesterdayish`)))!.status(), 400);
  assert.equal((await page.goto(url(`${base()}/commands?limit=5000`)))!.status(), 400);
  assert.equal((await page.goto(url(`/d/Not-A-Domain`)))!.status(), 400);
});

test("the overview's figures match the database", async () => {
  await page.goto(url(base()));
  const figure = async (id: string) => (await page.textContent(`[data-figure=${id}] .value`))?.trim();
  const pending = await sql<{ n: string }>`SELECT count(*) AS n FROM herald_outbox WHERE domain = ${f.h.domain} AND published_at IS NULL`.execute(db());
  assert.equal(await figure("outbox"), String(pending.rows[0]!.n));
  const dead = await sql<{ n: string }>`SELECT count(*) AS n FROM herald_dead_letters WHERE domain = ${f.h.domain}`.execute(db());
  assert.equal(await figure("dead-letters"), String(dead.rows[0]!.n));
  assert.equal(await page.textContent(`[data-consumer=${DURABLE}] [data-col=dead]`), String(dead.rows[0]!.n));
  const info = await (await openStreamManager(f.h.nc)).streams.info(f.stream);
  assert.equal(await figure("last-seq"), String(info.state.last_seq));
  const committed = await sql<{ n: string }>`SELECT count(*) AS n FROM herald_commands WHERE domain = ${f.h.domain} AND status = 'committed' AND received_at > now() - INTERVAL '60 seconds'`.execute(db());
  assert.match((await page.textContent("[data-figure=committed] .sub")) ?? "", new RegExp(`^${committed.rows[0]!.n} in the last 60 s`));
  assert.equal(await figure("workers"), "1");
  assert.ok(await page.waitForSelector("#rates-chart canvas"), "the rates chart draws");
});

test("an action without the operator credential is refused and changes nothing", async () => {
  const [letter] = await db().selectFrom("herald_dead_letters").select("id").execute();
  const post = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(url(path), { method: "POST", body: new URLSearchParams(body), headers: { origin: f.console.url, ...headers }, redirect: "manual" });
  assert.equal((await post(`${base()}/actions/redrive`, { id: letter!.id, confirm: "yes" })).status, 401);
  // A wrong token does not sign in.
  assert.equal((await post("/login", { credential: "not-the-operator-token" })).status, 401);
  // Signed in but without the form's CSRF token, or from another origin.
  const login = await post("/login", { credential: f.token });
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  assert.equal((await post(`${base()}/actions/redrive`, { id: letter!.id, confirm: "yes" }, { cookie })).status, 403);
  assert.equal((await post(`${base()}/actions/redrive`, { id: letter!.id, confirm: "yes" }, { cookie, origin: "http://evil.example" })).status, 403);
  // With the session and its CSRF token: a malformed id is 400, an unknown one 404, a bad replay range 400.
  const listing = await (await fetch(url(`${base()}/dead-letters`), { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(listing)?.[1];
  assert.ok(csrf, "the signed-in page carries the CSRF token");
  assert.equal((await post(`${base()}/actions/redrive`, { id: "not-a-uuid", confirm: "yes", csrf }, { cookie })).status, 400);
  assert.equal((await post(`${base()}/actions/redrive`, { id: "7d0c2d4a-4b1f-4c55-9a3e-2f1d7c9b6a41", confirm: "yes", csrf }, { cookie })).status, 404);
  assert.equal((await post(`${base()}/actions/replay`, { since: "30d", confirm: "yes", csrf }, { cookie })).status, 400);
  assert.equal((await post(`${base()}/actions/replay`, { since: "soon", confirm: "yes", csrf }, { cookie })).status, 400);
  assert.equal((await db().selectFrom("herald_dead_letters").select("id").execute()).length, 1, "the dead letter is still there");
  assert.equal((await db().selectFrom("herald_operator_actions").select("id").execute()).length, 0, "nothing recorded");

  // A read-only console (its role holds SELECT only) refuses every action, and its role could not write anyway.
  const readOnly = await consoleRole(f.h, false);
  extraRoles.push(readOnly.role);
  const ro = await startConsole({ db: readOnly.db.db, dialect: readOnly.db.dialect, nc: f.h.nc, port: 0, logger: (await import("../../src/telemetry/logger.js")).createLogger({ level: "error" }) });
  try {
    const r = await fetch(`${ro.url}${base()}/actions/prune`, { method: "POST", body: new URLSearchParams({ confirm: "yes" }), headers: { origin: ro.url } });
    const overview = await fetch(`${ro.url}${base()}`);
    assert.equal(overview.status, 200, await overview.text());
    assert.equal(r.status, 403);
    await assert.rejects(sql`DELETE FROM herald_dead_letters`.execute(readOnly.db.db), /permission denied/);
    const tables = await tablesInMigrations(coreMigrationsFolder());
    assert.deepEqual(await writableHeraldTables(readOnly.db.db, tables), [], "the read-only role holds no write grant");
    assert.deepEqual((await writableHeraldTables(f.consoleDb.db, tables)).sort(), ["herald_commands", "herald_dead_letters", "herald_inbox", "herald_operator_actions", "herald_outbox"]);
  } finally {
    await ro.close();
    await readOnly.db.destroy();
  }
});

test("a dead letter redriven from the page is applied exactly once by the consumer", async () => {
  const [letter] = await db().selectFrom("herald_dead_letters").selectAll().execute();
  f.heal();
  await page.goto(url("/login"));
  await page.fill("input[name=credential]", f.token);
  await page.click("form.stack button");
  await page.goto(url(`${base()}/dead-letters`));
  assert.match((await page.textContent(`tr[data-id="${letter!.id}"] [data-col=deliveries]`)) ?? "", /2/);
  await page.click(`tr[data-id="${letter!.id}"] button[name=one]`);
  await page.waitForSelector("#confirm");
  assert.equal((await db().selectFrom("herald_dead_letters").select("id").execute()).length, 1, "nothing happens before the confirmation");
  await page.click("#confirm");
  await page.waitForSelector("#result");
  const applied = () => sql<{ n: string }>`SELECT count(*) AS n FROM console_effects WHERE account = ${f.poisonAccount}`.execute(db()).then((r) => Number(r.rows[0]!.n));
  await waitFor(async () => (await applied()) === 1 || undefined, { what: "the redriven event applied" });
  // The same event published once more (a second redrive, a replay) is found in the inbox and skipped.
  await jetstream(f.h.nc).publish(letter!.subject, new TextEncoder().encode(JSON.stringify(letter!.data)), { headers: toNatsHeaders({ ...letter!.headers, "Nats-Msg-Id": uniqueKey() }) });
  await waitFor(async () => {
    const [c] = await (await openStreamManager(f.h.nc)).consumers.list(f.stream).next();
    return c && c.num_pending === 0 && c.num_ack_pending === 0 ? true : undefined;
  }, { what: "the consumer settled" });
  assert.equal(await applied(), 1, "applied exactly once");
  assert.equal((await db().selectFrom("herald_dead_letters").select("id").execute()).length, 0);
  const log = await db().selectFrom("herald_operator_actions").selectAll().execute();
  assert.equal(log.length, 1);
  assert.deepEqual([log[0]!.operator, log[0]!.action, log[0]!.outcome, (log[0]!.target as { ids: string[] }).ids], ["operator", "redrive", "done", [letter!.id]]);
  // The same id again: 404, nothing recorded.
  await page.goto(url(`${base()}/dead-letters`));
  const again = await page.evaluate(async ([path, id]) => {
    const csrf = "";
    const r = await fetch(path!, { method: "POST", body: new URLSearchParams({ id: id!, confirm: "yes", csrf }) });
    return r.status;
  }, [`${base()}/actions/redrive`, letter!.id]);
  assert.equal(again, 403, "a post without the page's CSRF token is refused");
});

test("replay and prune from the pages show what they will do, then run once confirmed and are recorded", async () => {
  // Signed in by the previous test.
  await page.goto(url(`${base()}/dead-letters`));
  await page.fill("input[name=since]", "1h");
  await page.click("text=Replay…");
  await page.waitForSelector("#confirm");
  const stored = await sql<{ n: string }>`SELECT count(*) AS n FROM herald_outbox WHERE domain = ${f.h.domain}`.execute(db());
  assert.match((await page.textContent("main ul")) ?? "", new RegExp(`^${stored.rows[0]!.n} event\\(s\\)`));
  const before = (await (await openStreamManager(f.h.nc)).streams.info(f.stream)).state.last_seq;
  await page.click("#confirm");
  await page.waitForSelector("#result");
  // Into the original subjects, inside the duplicate window: JetStream drops every copy.
  assert.match((await page.textContent("#result")) ?? "", new RegExp(`${stored.rows[0]!.n} event\\(s\\) replayed: 0 published, ${stored.rows[0]!.n} dropped as duplicates`));
  assert.equal((await (await openStreamManager(f.h.nc)).streams.info(f.stream)).state.last_seq, before);

  await page.goto(url(`${base()}/actions`));
  await page.click("text=Prune…");
  await page.waitForSelector("#confirm");
  await page.click("#confirm");
  await page.waitForSelector("#result");
  const log = await db().selectFrom("herald_operator_actions").select(["action", "outcome", "operator"]).orderBy("at").execute();
  assert.deepEqual(log.map((a) => a.action), ["redrive", "replay", "prune"]);
  assert.ok(log.every((a) => a.outcome === "done" && a.operator === "operator"));
  await page.goto(url(`${base()}/actions`));
  assert.equal(await page.locator("#operator-log tbody tr").count(), 3);
});

test("the live view shows a command sent during the test, and holds new ones while paused", async () => {
  await page.goto(url(`${base()}/live`));
  await waitFor(async () => (await page.textContent("#live-state")) === "Live" || undefined, { what: "the live stream open" });
  const liveKey = uniqueKey("live");
  assert.equal((await f.h.send("open_account", { accountId: "acct_live", owner: "live" }, { key: liveKey })).body.status, "committed");
  await page.waitForSelector(`#live-commands tr:has-text("${liveKey}")`, { timeout: 15_000 });
  const [cmd] = await db().selectFrom("herald_commands").select("id").where("idempotency_key", "=", liveKey).execute();
  await page.waitForSelector(`#live-events tr:has-text("${cmd!.id}")`, { timeout: 15_000 });
  await page.click("#live-pause");
  const pausedKey = uniqueKey("paused");
  assert.equal((await f.h.send("open_account", { accountId: "acct_paused", owner: "paused" }, { key: pausedKey })).body.status, "committed");
  await waitFor(async () => /waiting/.test((await page.textContent("#live-state")) ?? "") || undefined, { what: "held while paused" });
  assert.equal(await page.locator(`#live-commands tr:has-text("${pausedKey}")`).count(), 0);
  await page.click("#live-pause");
  await page.waitForSelector(`#live-commands tr:has-text("${pausedKey}")`);
  // The 4xx pages the earlier tests opened log their status; nothing else may fail, CSP included.
  assert.deepEqual(pageErrors.filter((e) => !/status of 40[0-4]/.test(e)), []);
});

test("the commands filter swaps the results in place with htmx and keeps the URL", async () => {
  await page.goto(url(`${base()}/commands`));
  await page.fill("input[name=command]", "deposit");
  await page.click("text=Filter");
  await page.waitForURL(/command=deposit/);
  const names = await page.$$eval("#commands tbody tr td:first-child", (tds) => tds.map((td) => td.textContent?.trim()));
  assert.ok(names.length >= 1 && names.every((n) => n === "deposit"), JSON.stringify(names));
  assert.equal(await page.locator("main").count(), 1, "one main element after the swap");
});
