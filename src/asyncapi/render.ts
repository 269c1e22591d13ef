import { extname } from "node:path";
import { stringify } from "yaml";

/** Output format by file extension: `.json` is JSON, `.yaml`/`.yml` (or none, stdout) YAML. */
export type DocumentFormat = "json" | "yaml";

/** The format for an --out path; undefined for an extension that is neither. */
export function formatOf(path: string | undefined): DocumentFormat | undefined {
  if (path === undefined) return "yaml";
  const ext = extname(path).toLowerCase();
  if (ext === ".json") return "json";
  if (ext === ".yaml" || ext === ".yml") return "yaml";
  return undefined;
}

/** The document as text; YAML without anchors, so every $ref stays a plain reference. */
export function renderDocument(document: object, format: DocumentFormat): string {
  if (format === "json") return `${JSON.stringify(document, null, 2)}\n`;
  return stringify(document, { aliasDuplicateObjects: false, lineWidth: 0 });
}
