/**
 * Structured logs: one JSON object per line (ts, level, actor, run, round, problem, msg, ...),
 * written to stderr by default. Injectable: tests pass a sink that collects records.
 */
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";

/** Severity of a log record. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Context fields carried by a record. */
export interface LogFields {
  readonly actor?: string;
  readonly run?: string;
  readonly round?: number;
  readonly problem?: string;
  readonly [key: string]: unknown;
}

/** One log record as written. */
export interface LogRecord extends LogFields {
  readonly ts: string;
  readonly level: LogLevel;
  readonly msg: string;
}

/** A structured logger; `child` adds fixed fields (actor, run, ...). */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Options for `createLogger`. */
export interface LoggerOptions {
  /** Where records go; default: one JSON line on stderr. */
  readonly sink?: (record: LogRecord) => void;
  /** Records below this level are dropped (default "info"). */
  readonly level?: LogLevel;
  readonly clock?: Clock;
  readonly fields?: LogFields;
}

const encoder = new TextEncoder();

/** Writes a record as one JSON line to stderr. */
export function stderrSink(record: LogRecord): void {
  Deno.stderr.writeSync(encoder.encode(JSON.stringify(record) + "\n"));
}

/** Builds a logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const sink = options.sink ?? stderrSink;
  const min = rank[options.level ?? "info"];
  const clock = options.clock ?? systemClock;
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
      if (rank[level] < min) return;
      sink({ ts: new Date(clock.now()).toISOString(), level, ...base, ...fields, msg });
    };
    return {
      debug: (msg, fields) => emit("debug", msg, fields),
      info: (msg, fields) => emit("info", msg, fields),
      warn: (msg, fields) => emit("warn", msg, fields),
      error: (msg, fields) => emit("error", msg, fields),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.fields ?? {});
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger({ sink: () => {} });

/** The codec's `log` option (protocols/codec.ts: bad messages, failed handlers) as warnings of `logger`. */
export function codecLogTo(logger: Logger): (e: Record<string, unknown>) => void {
  return (e) => logger.warn(String(e.msg ?? "codec"), e);
}

/** A logger that keeps its records in memory (for tests). */
export function memoryLogger(level: LogLevel = "debug"): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  return { logger: createLogger({ sink: (r) => records.push(r), level }), records };
}
