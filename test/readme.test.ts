import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { configSchema } from "../src/config.js";

test("the README's configuration table names every variable Herald reads", async () => {
  const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
  const table = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("## Operations"));
  const missing = Object.keys(configSchema.shape).filter((key) => !table.includes(`\`${key}\``));
  assert.deepEqual(missing, []);
});

test("the README names exactly one test command", async () => {
  const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf("## Tests"), readme.indexOf("##", readme.indexOf("## Tests") + 3));
  assert.deepEqual(section.match(/^npm [a-z:]+.*$/gm), ["npm test"]);
});
