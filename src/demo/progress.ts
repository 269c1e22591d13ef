/** Where progress goes: stderr, whose `isTTY` decides between a live line and plain lines. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** Progress on stderr, so stdout holds only the summary (or the JSON). */
export interface Progress {
  /** A step of the run, on its own line. */
  phase(text: string): void;
  /** The count while requests run: a live line on a terminal, a line per quarter otherwise. */
  update(done: number, total: number, detail: string): void;
  /** Ends the live line. */
  end(): void;
}

const CLEAR_LINE = "\r\x1b[2K";
/** Redraws at most this often; a terminal does not need more. */
const REDRAW_MS = 100;

export function createProgress(stream: ProgressStream): Progress {
  const live = stream.isTTY === true;
  let shown = false;
  let lastDraw = 0;
  let lastQuarter = 0;
  const clear = () => {
    if (shown) stream.write(CLEAR_LINE);
    shown = false;
  };
  return {
    phase(text) {
      clear();
      stream.write(`herald demo: ${text}\n`);
    },
    update(done, total, detail) {
      const line = `herald demo: ${done}/${total} requests  ${detail}`;
      if (live) {
        const now = Date.now();
        if (now - lastDraw < REDRAW_MS && done < total) return;
        lastDraw = now;
        stream.write(`${CLEAR_LINE}${line}`);
        shown = true;
        return;
      }
      const quarter = Math.floor((done / total) * 4);
      if (quarter > lastQuarter) {
        lastQuarter = quarter;
        stream.write(`${line}\n`);
      }
    },
    end: clear,
  };
}
