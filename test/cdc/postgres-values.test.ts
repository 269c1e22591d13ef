/**
 * Every row of docs/cdc.md's value table, live: `herald cdc start` in a child
 * process under TZ=Asia/Tokyo, a database whose own settings are all
 * non-default (DateStyle SQL, DMY; IntervalStyle sql_standard; TimeZone
 * America/Los_Angeles; extra_float_digits 0; bytea_output escape), a table of
 * every type under REPLICA IDENTITY FULL with a composite key of int8,
 * timestamptz and date. The stream must carry exactly the values the table holds.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { loadConfig } from "../../src/config.js";
import { connectNats } from "../../src/messaging/connection.js";
import { spawnCli, type CliProcess } from "../kit/cli.js";
import { uniqueDomain } from "../kit/names.js";
import { startPostgresServer, type PrivatePostgres } from "../kit/postgres-server.js";
import { readStream, type StreamMessage } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";
import { createCdcDatabase, LOGICAL_SETTINGS, withClient, type PostgresCdcDatabase } from "./postgres-fixture.js";

const TABLE = "cdc_types";
let server: PrivatePostgres;
let db: PostgresCdcDatabase;
let nc: NatsConnection;
let bridge: CliProcess;
const domain = uniqueDomain("cdcval");
const stream = `${domain.toUpperCase()}_CDC`;

const COLUMNS = `
  id int8, at timestamptz, day date,
  b bool, i2 int2, i4 int4, i8 int8, n numeric, n2 numeric(10,2), f4 float4, f8 float8,
  txt text, ch char(3), u uuid, j json, jb jsonb, by bytea,
  d date, ts timestamp, tstz timestamptz, t time, ttz timetz, iv interval, iv2 interval,
  ip inet, ip6 inet, cidr cidr, mac macaddr, m money, mood mood, dom posint,
  arr_i int[], arr_t text[], arr_ts timestamptz[], arr_mood mood[], arr2 int[][], bits bit(4), rng int4range, pt point,
  PRIMARY KEY (id, at, day)`;

/** One row of odd values (inserted in the session's own settings, so literals are unambiguous ISO). */
const ODD = `(9007199254740993, '2026-01-02 03:04:05.123456+00', '2026-01-02',
  true, -32768, 2147483647, -9223372036854775808, 12345678901234567890.123456789, 150.50, 1.1, 0.1::float8 + 0.2::float8,
  E'multi\\nline "quoted" \\u2603', 'ab', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{"big": 12345678901234567890, "f": 1.5}',
  '{"n": 123456789012345678901234567890, "small": 1, "s": "x"}', '\\x00ff10',
  '0044-03-15 BC', '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05.123456+09', '23:59:59.999999', '03:04:05.123456+09',
  '1 year 2 months 3 days 04:05:06.789', '-1 day +02:00:00',
  '192.168.0.1/24', '::1', '10.0.0.0/8', '08:00:2b:01:02:03', 1234.56, 'happy', 5,
  '{1,NULL,3}', ARRAY['a,b', 'NULL', NULL, 'q"uote', ''], ARRAY['2026-01-02 03:04:05.5+00'::timestamptz], '{sad,happy}', '{{1,2},{3,4}}',
  B'1010', '[1,5)', '(1.5,2)')`;

const ODD_JSON = {
  id: "9007199254740993", at: "2026-01-02T03:04:05.123456Z", day: "2026-01-02",
  b: true, i2: -32768, i4: 2147483647, i8: "-9223372036854775808", n: "12345678901234567890.123456789", n2: 150.5, f4: 1.1, f8: 0.30000000000000004,
  txt: 'multi\nline "quoted" \u2603', ch: "ab ", u: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", j: { big: "12345678901234567890", f: 1.5 },
  jb: { n: "123456789012345678901234567890", s: "x", small: 1 }, by: "\\x00ff10",
  d: "0044-03-15 BC", ts: "2026-01-02T03:04:05.123456", tstz: "2026-01-01T18:04:05.123456Z", t: "23:59:59.999999", ttz: "03:04:05.123456+09",
  iv: "P1Y2M3DT4H5M6.789S", iv2: "P-1DT2H",
  ip: "192.168.0.1/24", ip6: "::1", cidr: "10.0.0.0/8", mac: "08:00:2b:01:02:03", m: "$1,234.56", mood: "happy", dom: 5,
  arr_i: [1, null, 3], arr_t: ["a,b", "NULL", null, 'q"uote', ""], arr_ts: ["2026-01-02T03:04:05.5Z"], arr_mood: ["sad", "happy"], arr2: [[1, 2], [3, 4]],
  bits: "1010", rng: "[1,5)", pt: "(1.5,2)",
};

const NULL_ROW = `(2, '2026-01-02 00:00:00+00', '2026-01-02'${", NULL".repeat(36)})`;
const NULL_JSON = Object.fromEntries(Object.keys(ODD_JSON).map((k) => [k, null]));
Object.assign(NULL_JSON, { id: 2, at: "2026-01-02T00:00:00Z", day: "2026-01-02" });

/** Special values: distinct from NULL. */
const SPECIAL = `(3, 'infinity', '-infinity', NULL, NULL, NULL, NULL, 'NaN', NULL, '-Infinity', 'NaN'${", NULL".repeat(6)},
  'infinity', '-infinity', 'infinity'${", NULL".repeat(19)})`;
const SPECIAL_JSON = { ...NULL_JSON, id: 3, at: "infinity", day: "-infinity", n: "NaN", f4: "-Infinity", f8: "NaN", d: "infinity", ts: "-infinity", tstz: "infinity" };

before(async () => {
  server = await startPostgresServer({ settings: { ...LOGICAL_SETTINGS, track_commit_timestamp: "on" } });
  db = await createCdcDatabase(server, []);
  const dbName = new URL(db.url).pathname.slice(1);
  await withClient(db.url, async (c) => {
    await c.query("CREATE TYPE mood AS ENUM ('sad', 'happy')");
    await c.query("CREATE DOMAIN posint AS int CHECK (VALUE > 0)");
    await c.query(`CREATE TABLE ${TABLE} (${COLUMNS})`);
    await c.query(`ALTER TABLE ${TABLE} REPLICA IDENTITY FULL`);
    for (const set of ["DateStyle = 'SQL, DMY'", "IntervalStyle = 'sql_standard'", "TimeZone = 'America/Los_Angeles'", "extra_float_digits = 0", "bytea_output = 'escape'"]) {
      await c.query(`ALTER DATABASE ${dbName} SET ${set}`);
    }
  });
  // The database's own settings are in force for new sessions: the pins are what keeps the stream the same.
  await withClient(db.url, async (c) => {
    assert.equal((await c.query("SHOW DateStyle")).rows[0].DateStyle, "SQL, DMY");
    assert.equal((await c.query("SELECT '2026-01-02'::date::text AS d")).rows[0].d, "02/01/2026");
  });
  nc = await connectNats({ servers: loadConfig().NATS_URL });
  bridge = spawnCli(["cdc", "start"], {
    env: {
      TZ: "Asia/Tokyo",
      HERALD_DOMAIN: domain,
      HERALD_CDC_DATABASE_URL: db.url,
      HERALD_CDC_TABLES: TABLE,
      HERALD_CDC_SLOT: db.names.slot,
      HERALD_CDC_PUBLICATION: db.names.publication,
      LOG_LEVEL: "warn",
    },
  });
  await bridge.waitForLine(/herald cdc ready/, 60_000);
});

after(async () => {
  bridge?.child.kill("SIGTERM");
  await bridge?.stopped(20_000).catch(() => undefined);
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
  await nc?.close();
  await db?.drop();
  await server?.dispose();
});

/** Runs `sql` in one transaction (in the database's own DMY settings) and returns the `count` messages it added, in seq order. */
async function changesOf(sql: string[], count: number): Promise<StreamMessage[]> {
  const seen = await readStream(nc, stream).then((l) => l.length).catch(() => 0);
  await withClient(db.url, async (c) => {
    await c.query("BEGIN");
    // Literals above are ISO; the session keeps the database's DMY order for output only.
    await c.query("SET LOCAL DateStyle = 'ISO, DMY'");
    await c.query("SET LOCAL IntervalStyle = 'postgres'");
    for (const s of sql) await c.query(s);
    await c.query("COMMIT");
  });
  const all = await waitFor(async () => {
    const list = await readStream(nc, stream).catch(() => []);
    return list.length >= seen + count ? list : undefined;
  }, { what: `${count} new changes` });
  return all.slice(seen).sort((a, b) => Number(a.headers["ce-cdcseq"]) - Number(b.headers["ce-cdcseq"]));
}

const keyOf = (row: Record<string, unknown>) => ({ id: row.id, at: row.at, day: row.day });

test("every type's value, NULLs and special values arrive exactly as stored, keys too, under TZ=Asia/Tokyo and the database's non-default styles", async () => {
  const inserted = await changesOf([`INSERT INTO ${TABLE} VALUES ${ODD}, ${NULL_ROW}, ${SPECIAL}`], 3);
  assert.deepEqual(inserted.map((m) => m.data.after), [ODD_JSON, NULL_JSON, SPECIAL_JSON]);
  assert.deepEqual(inserted.map((m) => m.data.key), [keyOf(ODD_JSON), keyOf(NULL_JSON), keyOf(SPECIAL_JSON)]);
  assert.deepEqual(inserted.map((m) => m.subject), Array(3).fill(`${domain}.cdc.${TABLE}.insert`));
});

test("before and after under REPLICA IDENTITY FULL: a 1 µs move is visible, and keys 1 µs apart are distinct rows", async () => {
  const [update] = await changesOf([`UPDATE ${TABLE} SET tstz = tstz + interval '1 microsecond' WHERE id = 9007199254740993`], 1);
  assert.deepEqual(update!.data.before, ODD_JSON);
  assert.deepEqual(update!.data.after, { ...ODD_JSON, tstz: "2026-01-01T18:04:05.123457Z" });
  const twins = await changesOf([`INSERT INTO ${TABLE} (id, at, day) VALUES (7, '2026-01-02 03:04:05.000001+00', '2026-01-02'), (7, '2026-01-02 03:04:05.000002+00', '2026-01-02')`], 2);
  assert.deepEqual(twins.map((m) => m.data.key.at), ["2026-01-02T03:04:05.000001Z", "2026-01-02T03:04:05.000002Z"]);
  assert.notEqual(twins[0]!.headers["Nats-Msg-Id"], twins[1]!.headers["Nats-Msg-Id"]);
  const [deleted] = await changesOf([`DELETE FROM ${TABLE} WHERE id = 3`], 1);
  assert.deepEqual(deleted!.data.before, SPECIAL_JSON);
  assert.deepEqual(deleted!.data.key, keyOf(SPECIAL_JSON));
});

test("commit times keep microseconds: ce-time and commitTime are the transaction's commit timestamp", async () => {
  const [m] = await changesOf([`INSERT INTO ${TABLE} (id, at, day) VALUES (8, 'epoch', '2000-01-01')`], 1);
  const committed = await withClient(db.url, async (c) =>
    (await c.query(`SELECT to_char(pg_xact_commit_timestamp(xmin) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t FROM ${TABLE} WHERE id = 8`)).rows[0].t as string,
  );
  assert.match(committed, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(m!.headers["ce-time"], committed);
  assert.equal(m!.data.commitTime, committed);
  assert.equal(m!.data.key.at, "1970-01-01T00:00:00Z");
  assert.equal(m!.data.sortablePosition, sortable(m!.data.position));
});

/** The documented rule, independently: 16 hex digits. */
const sortable = (lsn: string) => lsn.split("/").map((p) => p.padStart(8, "0")).join("").toUpperCase();
