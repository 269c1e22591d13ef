import type { CdcBenchResult } from "./run-cdc.js";

/** The targets the CDC benchmark is judged by (the CPU round's: 30,000 changes/s, lag p99 under 100 ms at 5,000 changes/s). */
export const CDC_TARGETS = { changesPerS: 30_000, lagRatePerS: 5_000, lagP99Ms: 100 } as const;

type Recorded = CdcBenchResult | { error: string } | undefined;

const verdict = (ok: boolean) => (ok ? "met" : "**missed**");

/** Rows of the CDC table: what, target, measured, verdict. */
function cdcRows(cdc: CdcBenchResult): string[][] {
  const t = cdc.throughput;
  const l = cdc.lag;
  return [
    [
      `Throughput: a backlog of ${t.changes.toLocaleString("en-US")} committed inserts drained from the slot (COMMIT to PubAck)`,
      `≥ ${CDC_TARGETS.changesPerS.toLocaleString("en-US")} changes/s`,
      `${t.changesPerS.toLocaleString("en-US")} changes/s (${t.seconds.toFixed(1)} s)`,
      verdict(t.changesPerS >= CDC_TARGETS.changesPerS),
    ],
    [
      `Lag at ${l.ratePerS.toLocaleString("en-US")} changes/s, arrival in the stream minus commit time (${l.changes.toLocaleString("en-US")} changes)`,
      `p99 < ${CDC_TARGETS.lagP99Ms} ms`,
      `p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms, max ${l.maxMs} ms`,
      verdict(l.p99Ms < CDC_TARGETS.lagP99Ms),
    ],
  ];
}

/** Lines for the console summary. */
export function cdcConsoleLines(cdc: Recorded): string[] {
  if (!cdc) return [];
  if ("error" in cdc) return [`CDC benchmark could not run: ${cdc.error}`];
  return ["CDC (PostgreSQL logical replication into JetStream):", ...cdcRows(cdc).map(([what, target, got, ok]) => `  ${what}: ${got} (target ${target}: ${ok!.replace(/\*/g, "")})`)];
}

/** The section of docs/performance.md. */
export function cdcDocSection(cdc: Recorded): string {
  if (!cdc) return "";
  const body =
    "error" in cdc
      ? `The CDC benchmark could not run: ${cdc.error}`
      : [
          "| | target | measured | |",
          "|---|---|---|---|",
          ...cdcRows(cdc).map((r) => `| ${r.join(" | ")} |`),
        ].join("\n");
  return `
## Change data capture

\`bench/cdc/run-cdc.ts\`: a private PostgreSQL with \`wal_level = logical\`, the bridge in the bench process, and the bench's NATS. Throughput drains a committed backlog (transactions of 100 inserts) and counts the bridge's PubAcks; lag updates 50 rows every 10 ms and measures on a core subscription.

${body}
`;
}
