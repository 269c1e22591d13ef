import type { Child } from "./child.js";

/** Driver counts of a target's processes (see instrument/statement-counter.ts). */
export interface StatementCounts {
  queries: number;
  statements: number;
}

/** Statements and queries from one reading to the next; null when either reading is missing. */
export function statementsBetween(from: StatementCounts | undefined, to: StatementCounts | undefined): StatementCounts | null {
  if (!from || !to) return null;
  return { queries: to.queries - from.queries, statements: to.statements - from.statements };
}

type Announced = { type: string; pid: number; seq?: number; queries?: number; statements?: number };

const parse = (line: string): Announced | undefined => {
  if (!line.startsWith('{"type":"statement')) return undefined;
  try {
    return JSON.parse(line) as Announced;
  } catch {
    return undefined;
  }
};

/**
 * Reads the statement counters of a target's processes: asks each process that
 * announced its counter (SIGUSR2) and sums the answers. A process started in
 * the window counts from zero; undefined when no process answered.
 */
export function createStatementProbe(child: Child): { read(pids: readonly number[]): Promise<StatementCounts | undefined> } {
  const asked = new Map<number, number>();
  const announced = (pid: number) =>
    child.waitForLine((l) => (parse(l)?.type === "statement-counter" && parse(l)?.pid === pid ? true : undefined), 20, "statement counter").then(
      () => true,
      () => false,
    );
  async function readOne(pid: number): Promise<StatementCounts | undefined> {
    if (!(await announced(pid))) return undefined;
    const seq = (asked.get(pid) ?? 0) + 1;
    asked.set(pid, seq);
    try {
      process.kill(pid, "SIGUSR2");
      const answer = await child.waitForLine((l) => {
        const a = parse(l);
        return a?.type === "statements" && a.pid === pid && a.seq === seq ? a : undefined;
      }, 2000, "statement counts");
      return { queries: answer.queries ?? 0, statements: answer.statements ?? 0 };
    } catch {
      return undefined;
    }
  }
  return {
    async read(pids) {
      const answers = (await Promise.all(pids.map(readOne))).filter((a): a is StatementCounts => a !== undefined);
      if (answers.length === 0) return undefined;
      return answers.reduce((sum, a) => ({ queries: sum.queries + a.queries, statements: sum.statements + a.statements }), { queries: 0, statements: 0 });
    },
  };
}
