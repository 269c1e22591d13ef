import type { CandidateName, LayoutName } from "./layout-driver.js";
import type { ConfigurationSummary } from "./summary.js";

/** A number with fixed decimals and thousands separators. */
export const fixed = (n: number, digits = 2): string => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A ratio as "0.83×". */
export const times = (r: number): string => (Number.isFinite(r) ? `${fixed(r, 2)}×` : "n/a");

/** A ratio's change as "−17 %" or "+4 %". */
export const change = (r: number): string => (Number.isFinite(r) ? `${r < 1 ? "−" : "+"}${Math.round(Math.abs(r - 1) * 100)} %` : "n/a");

/** How the page names each layout. */
export const LABEL: Readonly<Record<LayoutName, string>> = {
  current: "current",
  "one-row": "one-row",
  "one-row-read-first": "one-row, keys read first",
};

/** "N=32, 2 events". */
export const shape = (s: ConfigurationSummary): string =>
  `N=${s.configuration.batchSize}, ${s.configuration.eventsPerCommand} event${s.configuration.eventsPerCommand === 1 ? "" : "s"}`;

export type { CandidateName };
