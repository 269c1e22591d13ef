/**
 * How many group-commit transactions side by side give the most commands per
 * second, found by measuring. More transactions at once hide round trips (a
 * database a network hop away answers each statement in milliseconds); fewer
 * mean larger batches, and a batch's fixed cost (BEGIN, claim, outcome write,
 * COMMIT and its log flush, and the worker's own work per transaction) is
 * shared by more commands. Which wins depends on the database's distance, the
 * handlers and the cores, none of which the worker knows; the throughput at
 * each setting tells.
 *
 * It climbs: the rate of answered commands is measured over windows of
 * `windowMs` at one setting, kept as a moving average per setting, and the next
 * window goes to the best of the setting and its two neighbours, ties going to
 * fewer (larger batches cost less CPU for the same rate). A neighbour not
 * measured for `staleAfter` windows is measured again, since the load changes.
 *
 * Only windows in which work waited for a slot say anything: when the slots
 * are never all busy, the setting does not limit the rate, so the measurements
 * are dropped and the setting goes back up towards the maximum, ready for a
 * burst. The conflict-driven cap (transaction-cap.ts) stays the upper bound.
 */
export interface ThroughputClimber {
  /** Transactions to allow now, never above `ceiling` (the conflict-driven cap). */
  current(ceiling: number): number;
  /** A batch finished, answering `commands` (0 when it committed nothing). */
  finished(commands: number): void;
  /** Work waited because every slot was busy. */
  waited(): void;
}

export interface ThroughputClimberOptions {
  /** Most transactions side by side, and where it starts. Default 10. */
  max?: number;
  /** Length of a measurement window in ms. Default 150. */
  windowMs?: number;
  /** Windows after which a neighbour's rate is measured again. Default 6. */
  staleAfter?: number;
  /** Rates within this share of the best count as equal (fewer wins). Default 0.03. */
  tolerance?: number;
  /** Weight of the newest window in a setting's moving average. Default 0.5. */
  weight?: number;
  /** Clock in ms. Default `performance.now`. */
  now?(): number;
}

export function createThroughputClimber(options: ThroughputClimberOptions = {}): ThroughputClimber {
  const max = Math.max(1, options.max ?? 10);
  const windowMs = options.windowMs ?? 150;
  const staleAfter = options.staleAfter ?? 6;
  const tolerance = options.tolerance ?? 0.03;
  const weight = options.weight ?? 0.5;
  const now = options.now ?? (() => performance.now());

  /** Rate (commands per ms) measured at each setting, and windows since. */
  const rate: Array<number | undefined> = new Array(max + 1).fill(undefined);
  const age: number[] = new Array(max + 1).fill(0);
  let setting = max;
  let ceiling = max;
  let windowStart = now();
  let answered = 0;
  let busy = false;

  function forget(): void {
    rate.fill(undefined);
    age.fill(0);
  }

  function measure(value: number): void {
    const previous = rate[setting];
    rate[setting] = previous === undefined ? value : previous + weight * (value - previous);
    for (let s = 1; s <= max; s++) age[s]!++;
    age[setting] = 0;
  }

  /**
   * The next window's setting: the best of the setting and its neighbours
   * measured lately (fewer on a tie); when that is the setting itself, a
   * neighbour not measured lately gets one window (fewer first).
   */
  function choose(): number {
    const top = Math.min(max, ceiling);
    const around = [setting - 1, setting, setting + 1].filter((s) => s >= 1 && s <= top);
    const fresh = around.filter((s) => rate[s] !== undefined && age[s]! <= staleAfter);
    const best = Math.max(...fresh.map((s) => rate[s]!));
    const pick = fresh.find((s) => rate[s]! >= best * (1 - tolerance))!;
    if (pick !== setting) return pick;
    return around.find((s) => !fresh.includes(s)) ?? setting;
  }

  function endWindow(at: number): void {
    if (busy) {
      measure(answered / (at - windowStart));
      setting = choose();
    } else {
      forget();
      setting = Math.min(max, ceiling, setting + 1);
    }
    windowStart = at;
    answered = 0;
    busy = false;
  }

  return {
    current(cap) {
      if (cap < ceiling) setting = Math.min(setting, Math.max(1, cap));
      ceiling = cap;
      return Math.min(setting, Math.max(1, cap));
    },
    finished(commands) {
      answered += commands;
      const at = now();
      if (at - windowStart >= windowMs) endWindow(at);
    },
    waited() {
      busy = true;
    },
  };
}
