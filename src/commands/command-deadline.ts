/**
 * A command's time budget, counted from its arrival. Every wait it goes
 * through (the group-commit queue, the adaptive limit, a pool connection,
 * connecting, each statement, re-reading the key after an ambiguous COMMIT)
 * counts against it, because the answer does not wait for them: when the
 * budget ends, a timer answers the command at once, whatever its work is
 * doing, and the work is told to stop (`onExpire`).
 *
 * What the timer answers depends on one fact: has the message holding the
 * command's COMMIT gone out? If not, the command is answered `unavailable`
 * and can never commit any more (`enterCommit` refuses from then on, so the
 * work rolls back). If it has and no answer came, the outcome is unknown:
 * `unknown_outcome`, retry with the same key.
 */
export interface CommandDeadline {
  /** Epoch ms when the budget ends. */
  readonly at: number;
  /** True once the command was answered at its deadline. */
  readonly expired: boolean;
  /**
   * Calls `listener` when the deadline answer goes out (a queue drops the
   * command); returns what unregisters it. A plain callback list: an
   * AbortSignal listener costs microseconds per command.
   */
  onExpire(listener: () => void): () => void;
  /**
   * Call right before sending the message that holds the command's COMMIT.
   * False when the budget is spent: roll back instead. From true on, an answer
   * at the deadline says `unknown_outcome`.
   */
  enterCommit(): boolean;
  /** COMMIT answered: `committed` true when it committed, false when it certainly did not. */
  leaveCommit(committed: boolean): void;
}

/** The work of a command stopped because its deadline answer already went out. */
export class DeadlineExpiredError extends Error {
  override readonly name = "DeadlineExpiredError";
  constructor() {
    super("the command's deadline passed; it was answered already");
  }
}

/**
 * How late past its deadline a command's answer may leave: the timer's own
 * lateness on a busy event loop. Documented in docs/reliability.md and held
 * by the stall tests.
 */
export const DEADLINE_ANSWER_BOUND_MS = 250;

/** Whether COMMIT's message is out, at the moment the deadline answer is chosen. */
export type DeadlineOutcome = "unavailable" | "unknown_outcome";

/** A command's answer race: its work against its deadline. */
export interface DeadlineRace<R> {
  readonly deadline: CommandDeadline;
  /** The work's result, or the deadline's answer, whichever comes first. */
  readonly answer: Promise<R>;
  /** The work itself, which may run on after a deadline answer (bounded by statement timeouts). */
  readonly work: Promise<unknown>;
}

/**
 * Runs `work` against a deadline at `at` (epoch ms): `answer` resolves with
 * the work's result, or with `onDeadline(...)` at the deadline.
 */
export function raceDeadline<R>(at: number, work: (deadline: CommandDeadline) => Promise<R>, onDeadline: (outcome: DeadlineOutcome) => R): DeadlineRace<R> {
  let listeners: Array<() => void> | undefined;
  let phase: "open" | "committing" | "committed" = "open";
  let expired = false;
  const deadline: CommandDeadline = {
    at,
    get expired() {
      return expired;
    },
    onExpire(listener) {
      (listeners ??= []).push(listener);
      return () => {
        const at = listeners?.indexOf(listener) ?? -1;
        if (at >= 0) listeners!.splice(at, 1);
      };
    },
    enterCommit() {
      if (expired) return false;
      phase = "committing";
      return true;
    },
    leaveCommit(committed) {
      phase = committed ? "committed" : "open";
    },
  };
  let settle!: (value: R | Promise<R>) => void;
  const answer = new Promise<R>((resolve) => (settle = resolve));
  const timer = setTimeout(() => {
    expired = true;
    // "committed" is answered as unknown too: the work's own answer was about to leave.
    settle(onDeadline(phase === "open" ? "unavailable" : "unknown_outcome"));
    for (const listener of listeners?.splice(0) ?? []) listener();
  }, Math.max(0, at - Date.now()));
  const running = work(deadline);
  running.then(
    (value) => {
      clearTimeout(timer);
      if (!expired) settle(value);
    },
    (err: unknown) => {
      clearTimeout(timer);
      if (!expired) settle(Promise.reject(err));
    },
  );
  return { deadline, answer, work: running.catch(() => undefined) };
}

/** Enters COMMIT for every command of a batch, or for none when one of them expired. */
export function enterCommitAll(deadlines: readonly CommandDeadline[]): boolean {
  if (deadlines.some((d) => d.expired)) return false;
  for (const d of deadlines) d.enterCommit();
  return true;
}

/** Leaves COMMIT for every command of a batch. */
export function leaveCommitAll(deadlines: readonly CommandDeadline[], committed: boolean): void {
  for (const d of deadlines) d.leaveCommit(committed);
}
