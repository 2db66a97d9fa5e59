/**
 * Progress output for long phases. On a terminal: one redrawn bar per phase with rate and ETA.
 * Otherwise: one clean line per event, no ANSI codes, so logs stay greppable; a phase writes its
 * start, its first unit done, then a progress line at most every `LOG_EVERY_MS`, and its end (a
 * quick run searches 40 problems a second: one line each made a log of 12,000 lines).
 */

/** Least time between two progress lines of one phase when not on a terminal. */
export const LOG_EVERY_MS = 10_000;

/** Where progress goes and how it is drawn. */
export interface ProgressSink {
  write(text: string): void;
  readonly isTTY: boolean;
  /** Milliseconds since some fixed origin (injected for tests). */
  now(): number;
}

/** One running phase. */
export interface PhaseProgress {
  /** Records `n` more units done; `note` is a short status such as "solved 4/7". */
  tick(n?: number, note?: string): void;
  /** Ends the phase with an optional final note. */
  done(note?: string): void;
}

/** A progress reporter: phases with bars, and one-line events. */
export interface Progress {
  phase(label: string, total: number, unit?: string): PhaseProgress;
  /** One line of information (always printed on its own line). */
  event(line: string): void;
}

/** Formats seconds as a short duration ("42s", "3m05s", "1h02m"). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function rateText(done: number, elapsedS: number, unit: string): string {
  if (elapsedS <= 0 || done === 0) return `- ${unit}/s`;
  const r = done / elapsedS;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)} ${unit}/s`;
}

/** Builds a progress reporter writing to `sink`. */
export function createProgress(sink: ProgressSink): Progress {
  const width = 24;
  return {
    event(line) {
      sink.write(sink.isTTY ? `\r\x1b[2K${line}\n` : `${line}\n`);
    },
    phase(label, total, unit = "it") {
      const start = sink.now();
      let done = 0;
      let lastDraw = -Infinity;
      let lastLine = -Infinity;
      const line = (note?: string) => {
        const elapsed = (sink.now() - start) / 1000;
        const rate = rateText(done, elapsed, unit);
        const eta = done > 0 && total > done ? formatDuration((elapsed / done) * (total - done)) : "-";
        return { elapsed, rate, eta, note: note ? ` ${note}` : "" };
      };
      const draw = (note?: string) => {
        const l = line(note);
        const frac = total > 0 ? Math.min(1, done / total) : 1;
        const filled = Math.round(frac * width);
        const bar = "#".repeat(filled) + "-".repeat(width - filled);
        sink.write(
          `\r\x1b[2K${label} [${bar}] ${done}/${total} ${l.rate} eta ${l.eta}${l.note}`,
        );
      };
      if (sink.isTTY) draw();
      else sink.write(`${label}: start (${total} ${unit})\n`);
      return {
        tick(n = 1, note) {
          done += n;
          if (sink.isTTY) {
            const t = sink.now();
            if (t - lastDraw >= 100 || done >= total) {
              lastDraw = t;
              draw(note);
            }
          } else if (sink.now() - lastLine >= LOG_EVERY_MS) {
            lastLine = sink.now();
            const l = line(note);
            sink.write(`${label}: ${done}/${total} ${l.rate} eta ${l.eta}${l.note}\n`);
          }
        },
        done(note) {
          const l = line(note);
          if (sink.isTTY) {
            draw(note);
            sink.write("\n");
          } else {
            sink.write(`${label}: done ${done}/${total} in ${formatDuration(l.elapsed)}${l.note}\n`);
          }
        },
      };
    },
  };
}

/** Progress to standard error (bars when it is a terminal). */
export function stderrProgress(): Progress {
  const enc = new TextEncoder();
  return createProgress({
    write: (t) => {
      Deno.stderr.writeSync(enc.encode(t));
    },
    isTTY: Deno.stderr.isTerminal(),
    now: () => performance.now(),
  });
}

/** Progress that prints nothing (tests). */
export const silentProgress: Progress = {
  phase: () => ({ tick() {}, done() {} }),
  event() {},
};
