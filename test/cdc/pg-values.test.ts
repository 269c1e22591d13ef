/**
 * Edge cases of Herald's decoder of pgoutput text values (the live table of
 * docs/cdc.md is checked by postgres-values.test.ts): array texts PostgreSQL
 * prints, domains and arrays through the catalog's description, and text
 * that never goes through a Date.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePgArray } from "../../src/cdc/pg-array.js";
import { pinnedOptions, valueDecoder, type PgTypeInfo } from "../../src/cdc/pg-values.js";
import { pgTimeText } from "../../src/cdc/pgoutput.js";

const TEXT = 25;
const INT4 = 23;
const TIMESTAMPTZ = 1184;

test("array text: quoting, escapes, NULL against \"NULL\", nesting, empty arrays, other delimiters; explicit bounds are left as text", () => {
  const id = (t: string) => t;
  assert.deepEqual(parsePgArray('{a,"b,c","d\\"e","f\\\\g",NULL,"NULL",""}', id), ["a", "b,c", 'd"e', "f\\g", null, "NULL", ""]);
  assert.deepEqual(parsePgArray("{{1,2},{3,4}}", Number), [[1, 2], [3, 4]]);
  assert.deepEqual(parsePgArray("{}", id), []);
  assert.deepEqual(parsePgArray("{(1,1),(0,0);(2,2),(1,1)}", id, ";"), ["(1,1),(0,0)", "(2,2),(1,1)"]);
  assert.equal(parsePgArray("[0:1]={1,2}", id), undefined);
  assert.throws(() => parsePgArray('{"unterminated', id), /unterminated/);
  assert.throws(() => parsePgArray("{1,2}x", id), /trailing text/);
});

test("decoders by type: arrays and domains through the catalog, enums and unknown types as text", () => {
  const types = new Map<number, PgTypeInfo>([
    [1007, { typtype: "b", elem: INT4, base: 0, delim: "," }], // int4[]
    [90001, { typtype: "d", elem: 0, base: INT4, delim: "," }], // a domain over int4
    [90002, { typtype: "e", elem: 0, base: 0, delim: "," }], // an enum
    [90003, { typtype: "b", elem: 90001, base: 0, delim: "," }], // an array of the domain
  ]);
  assert.deepEqual(valueDecoder(1007, types)("{1,NULL,-3}"), [1, null, -3]);
  assert.equal(valueDecoder(90001, types)("5"), 5);
  assert.equal(valueDecoder(90002, types)("happy"), "happy");
  assert.deepEqual(valueDecoder(90003, types)("{7,8}"), [7, 8]);
  assert.equal(valueDecoder(99999, types)("(1,2)"), "(1,2)", "an unknown type is its text");
  assert.equal(valueDecoder(1007, types)("[2:3]={1,2}"), "[2:3]={1,2}", "an array with bounds is its text");
  assert.equal(valueDecoder(TEXT)("NULL"), "NULL", "the text NULL is a string, not null");
});

test("time values are text transformations, never a Date: BC, infinity, and the zone of the process play no part", () => {
  const tz = valueDecoder(TIMESTAMPTZ);
  assert.equal(tz("0044-03-15 03:04:05+00 BC"), "0044-03-15T03:04:05Z BC");
  assert.equal(tz("275760-09-13 00:00:00.000001+00"), "275760-09-13T00:00:00.000001Z", "beyond a JavaScript Date's range");
  assert.equal(tz("-infinity"), "-infinity");
  // Commit times: microseconds since 2000-01-01 to RFC 3339 with six fraction digits.
  assert.equal(pgTimeText(0n), "2000-01-01T00:00:00.000000Z");
  assert.equal(pgTimeText(852_000_000_123_456n), "2026-12-31T02:40:00.123456Z");
  assert.match(pinnedOptions(), /-c DateStyle=ISO,YMD .*-c TimeZone=UTC/);
});
