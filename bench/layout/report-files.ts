import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { LayoutResults } from "./experiment.js";
import { renderLayoutDoc } from "./render-doc.js";

/** Writes the results as JSON and the page rendered from them. */
export function writeLayoutReport(results: LayoutResults, paths: { json: string; doc: string }): void {
  for (const path of [paths.json, paths.doc]) mkdirSync(dirname(path), { recursive: true });
  writeFileSync(paths.json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(paths.doc, renderLayoutDoc(results));
}
