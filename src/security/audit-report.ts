import type { Finding } from "./audit.js";

/** Control characters from a config file must not reach the terminal (escape sequences). */
const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");

/** Findings as an aligned text table, one row each; the last column is not padded. */
export function renderFindings(findings: readonly Finding[]): string {
  const header = ["KIND", "NATS USER", "DB ROLE", "SUBJECT/TABLE", "DETAIL"];
  const rows = findings.map((f) => [f.kind, f.user ?? "-", f.role ?? "-", f.target, f.detail].map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
