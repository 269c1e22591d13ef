import type { LayoutResults } from "./experiment.js";
import { change, LABEL, shape } from "./format.js";
import { CANDIDATES, type CandidateName } from "./layout-driver.js";
import type { ConfigurationSummary } from "./summary.js";

/** Changes smaller than this are never called a difference, however steady the rounds. */
const FLOOR = 0.03;

/** Lower, higher, or within the run-to-run spread of either layout (not told apart from noise). */
function cpuVerdict(s: ConfigurationSummary, candidate: CandidateName): "lower" | "higher" | "noise" {
  const r = s.ratio[candidate].dbCpuMs - 1;
  if (Math.abs(r) <= Math.max(s.cpuSpread.current, s.cpuSpread[candidate], FLOOR)) return "noise";
  return r < 0 ? "lower" : "higher";
}

function cpuSentence(summaries: readonly ConfigurationSummary[], candidate: CandidateName): string {
  const all = summaries.map((s) => ({ s, v: cpuVerdict(s, candidate), r: s.ratio[candidate].dbCpuMs }));
  const list = (v: string) => all.filter((x) => x.v === v).map((x) => `${shape(x.s)} ${change(x.r)}`);
  const lower = list("lower");
  const higher = list("higher");
  const noise = list("noise");
  const name = `**${LABEL[candidate]}**`;
  if (lower.length === all.length) return `${name} cut database CPU per command in every configuration, beyond the run-to-run spread: ${lower.join(", ")}.`;
  if (higher.length === all.length) return `${name} raised database CPU per command in every configuration: ${higher.join(", ")}.`;
  const parts = [];
  if (lower.length) parts.push(`lower for ${lower.join(", ")}`);
  if (higher.length) parts.push(`higher for ${higher.join(", ")}`);
  if (noise.length) parts.push(`within the run-to-run spread (not told apart from noise) for ${noise.join(", ")}`);
  return `${name}: database CPU per command was ${parts.join("; ")}.`;
}

/** The conclusion's sentences, each derived from the measured numbers. */
export function conclusions(summaries: readonly ConfigurationSummary[], results: LayoutResults): string[] {
  const out = CANDIDATES.map((c) => cpuSentence(summaries, c));

  const retries = summaries.map((s) => ({ s, read: s.layouts["one-row-read-first"].total.retries, current: s.layouts.current.total.retries, optimistic: s.layouts["one-row"].total.retries }));
  const more = retries.filter((r) => r.read > 2 * r.current && r.read > r.optimistic);
  const listed = (list: typeof retries) => list.map((r) => `${shape(r.s)} ${r.read.toFixed(3)} against ${r.current.toFixed(3)} today`).join(", ");
  out.push(
    more.length > 0
      ? `Reading the keys in every batch failed more attempts per command (${listed(more)}): on PostgreSQL that read is an index scan, whose SERIALIZABLE predicate locks cover whole index pages that other batches insert keys into.`
      : `Reading the keys in every batch did not fail more attempts than today (${listed(retries)}).`,
  );

  const rows = summaries.map((s) => `${shape(s)}: ${s.layouts.current.total.rows.toFixed(2)} → ${s.layouts["one-row"].total.rows.toFixed(2)}`);
  out.push(`Rows written per command (business row included), current → one-row: ${rows.join("; ")}.`);
  const wal = summaries.map((s) => `${shape(s)} ${change(s.ratio["one-row"].walBytes)} (${change(s.ratio["one-row"].walWithoutPagesBytes)} without full-page images)`);
  out.push(`WAL per command, one-row against current: ${wal.join(", ")}.`);

  // The likely catch: marking a wide row published rewrites all of it.
  const publish = summaries.map((s) => {
    const c = s.layouts.current.publish.walBytes;
    const o = s.layouts["one-row"].publish.walBytes;
    return { s, c, o, r: c === 0 ? Infinity : o / c };
  });
  const heavier = publish.filter((p) => p.r > 1);
  const detail = (list: typeof publish) => list.map((p) => `${shape(p.s)} ${Math.round(p.c)} → ${Math.round(p.o)} B (${p.r.toFixed(2)}×)`).join(", ");
  out.push(
    heavier.length > 0
      ? `Marking published rewrites the whole command row (payload, reply and events): publication wrote more WAL per command than today's outbox update for ${detail(heavier)}.`
      : `Marking the wide row published cost no more WAL than today's outbox update: ${detail(publish)}.`,
  );
  const share = summaries.map((s) => `${shape(s)} ${Math.round((s.layouts["one-row"].publish.walBytes / Math.max(1, s.layouts["one-row"].total.walBytes)) * 100)} %`);
  out.push(`Share of one-row's WAL spent marking rows published: ${share.join(", ")}.`);

  const side = (layout: "current" | "one-row") => results.sideCosts.find((c) => c.layout === layout)!;
  const compare = (label: string, pick: (s: ReturnType<typeof side>) => number): string => {
    const c = pick(side("current"));
    const o = pick(side("one-row"));
    return c > 0 && o > 0 ? `${label} ${(o / c).toFixed(2)}×` : `${label} below one CPU clock tick in one layout (not compared)`;
  };
  out.push(
    `Elsewhere, one row against today, in CPU: ${compare("trace per command", (s) => s.trace.backendCpuMs / Math.max(1, s.trace.units))}, ` +
      `${compare("replay per event (events unpacked from JSONB)", (s) => s.replay.backendCpuMs / Math.max(1, s.replay.units))}, ` +
      `${compare("prune per command", (s) => s.prune.backendCpuMs / Math.max(1, s.prune.units))}.`,
  );
  const ok = results.duplicates.every((d) => d.reportedDuplicates === d.alreadyStored && d.rowsUnderKey === 1);
  out.push(ok ? "Every layout detected the repeated key and kept one row under it." : "A layout failed to detect a repeated key: see Duplicate detection.");
  out.push("These are PostgreSQL's figures. On CockroachDB every row written is a consensus write, so the rows-written column carries over; its CPU and WAL (Raft log) costs were not measured here.");
  return out;
}
