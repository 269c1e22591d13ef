/**
 * Takes the console screenshots of the docs from a real run: a worker, a
 * consumer that dead-letters one event, NATS, PostgreSQL and the console.
 *   DATABASE_URL=... NATS_URL=... node --import tsx docs/screenshots/capture.ts
 */
import { fileURLToPath } from "node:url";
import { launchBrowser } from "../../test/console/browser.js";
import { DURABLE, startConsoleFixture } from "../../test/console/console-fixture.js";
import { uniqueKey } from "../../test/kit/names.js";
import { waitFor } from "../../test/kit/wait.js";

const out = (name: string) => fileURLToPath(new URL(`./${name}.png`, import.meta.url));

const f = await startConsoleFixture({ actions: true });
const browser = await launchBrowser();
try {
  const keys: string[] = [];
  for (let i = 0; i < 24; i++) {
    const key = uniqueKey("order");
    keys.push(key);
    await f.h.send("open_account", { accountId: `acct_${i}`, owner: `Owner ${i}`, initialBalance: 100 * i }, { key });
    await f.h.send("deposit", { accountId: `acct_${i % 5}`, amount: 10 + i });
    if (i % 6 === 0) await f.h.send("open_account", { accountId: `acct_${i}`, owner: "again" });
  }
  await f.h.send("open_account", { accountId: f.poisonAccount, owner: "poison" });
  await waitFor(async () => (await f.h.database.db.selectFrom("herald_dead_letters").select("id").where("consumer", "=", DURABLE).execute()).length === 1 || undefined);
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1360, height: 900 });
  const base = `${f.console.url}/d/${f.h.domain}`;
  await page.goto(`${f.console.url}/login`);
  await page.fill("input[name=credential]", f.token);
  await page.click("form.stack button");
  await page.goto(base);
  await page.waitForSelector("#rates-chart canvas");
  await page.waitForTimeout(2500);
  await page.screenshot({ path: out("console-overview"), fullPage: true });
  await page.goto(`${base}/commands`);
  await page.screenshot({ path: out("console-commands"), fullPage: true });
  await page.goto(`${base}/commands/${encodeURIComponent(keys[3]!)}`);
  await page.screenshot({ path: out("console-command"), fullPage: true });
  await page.goto(`${base}/dead-letters`);
  await page.screenshot({ path: out("console-dead-letters"), fullPage: true });
  await page.goto(`${base}/live`);
  await waitFor(async () => (await page.textContent("#live-state")) === "Live" || undefined);
  for (let i = 0; i < 6; i++) await f.h.send("deposit", { accountId: `acct_${i}`, amount: 5 });
  await page.waitForSelector("#live-events tr:nth-child(6)");
  await page.waitForSelector("#live-commands tr:nth-child(6)");
  await page.screenshot({ path: out("console-live"), fullPage: true });
} finally {
  await browser.close();
  await f.close();
}
