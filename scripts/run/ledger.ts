/**
 * The run ledger: an append-only JSONL file of events, each line written with one `write` and
 * made durable with `fdatasync` before `append` returns. Replaying the ledger rebuilds the run's
 * state; a torn last line (a crash mid-write) is dropped and truncated away, any other bad line
 * is a `LedgerCorrupt` error naming the file and line.
 */

/** Model versions that produced a result. */
export interface Versions {
  readonly policy: string;
  readonly scorer?: string;
}

/** One supervised fine-tuning example: a problem and a verified step sequence. */
export interface SftExample {
  readonly problemId: string;
  readonly problem: string;
  readonly steps: readonly { readonly text: string; readonly code: string }[];
  readonly answer: string;
  readonly meanQ: number;
  /**
   * Whether the steps solve the problem the way its reference solution does (math/reference.ts
   * `matchesReference`); absent when the problem has none. A diagnostic only: training never reads it.
   */
  readonly matchesReference?: boolean;
}

/** One step-level preference pair at a shared prefix. */
export interface PairExample {
  readonly problemId: string;
  readonly problem: string;
  readonly steps: readonly { readonly text: string; readonly code: string }[];
  readonly chosen: { readonly text: string; readonly code: string };
  readonly rejected: { readonly text: string; readonly code: string };
  readonly margin: number;
}

/** Per-level tally: problems seen and problems solved (or answered correctly). */
export interface LevelTally {
  readonly n: number;
  readonly correct: number;
}

/** Every event the coordinator records. */
export type LedgerEvent =
  | {
    readonly type: "run-started";
    readonly ts: string;
    readonly seed: number;
    readonly preset: string;
    readonly resumed: boolean;
    readonly recoveredTornTail?: boolean;
  }
  | {
    readonly type: "problem-searched";
    readonly round: number;
    readonly phase: "train" | "retry";
    readonly problemId: string;
    readonly level: number;
    readonly solved: boolean;
    readonly answer?: string;
    readonly rollouts: number;
    readonly tokens: number;
    readonly wallMs: number;
    readonly trajectories: { readonly total: number; readonly correct: number };
    readonly sft: readonly SftExample[];
    readonly pairs: readonly PairExample[];
    readonly versions: Versions;
  }
  | {
    readonly type: "data-persisted";
    readonly round: number;
    readonly sft: number;
    readonly pairs: number;
    readonly files: readonly string[];
  }
  | {
    readonly type: "round-trained";
    readonly round: number;
    readonly losses: { readonly policy: readonly number[]; readonly ppm: readonly number[] };
    /** Optimiser steps each model took (absent in ledgers from before the field, and for a remote policy). */
    readonly steps?: { readonly policy: number; readonly ppm: number };
    readonly versions: Versions;
    readonly checkpoints: { readonly policy: string; readonly ppm: string };
    /** Set when the round's policy was trained elsewhere and is served by this server. */
    readonly remote?: { readonly url: string; readonly model: string };
    readonly tokens: number;
    readonly wallMs: number;
  }
  | {
    /** One test problem evaluated by one strategy (an interrupted evaluation resumes after it). */
    readonly type: "problem-evaluated";
    readonly round: number;
    readonly strategy: string;
    readonly problemId: string;
    readonly answer?: string;
    readonly samples: number;
    readonly tokens: number;
    /** Milliseconds of this (round, strategy)'s evaluation so far, every session's share summed. */
    readonly elapsedMs: number;
  }
  | {
    readonly type: "evaluation-done";
    readonly round: number;
    readonly strategy: string;
    readonly samples: number;
    readonly byLevel: Readonly<Record<string, LevelTally>>;
    readonly accuracy: number;
    readonly tokens: number;
    readonly wallMs: number;
    readonly versions: Versions;
  }
  | {
    /** What fault injection did during one search call and what the system did about it. */
    readonly type: "faults-recorded";
    readonly round: number;
    readonly phase: string;
    readonly counters: Readonly<Record<string, number>>;
  }
  | {
    /** One search pass finished: its wall time (problems overlap, so this is not their sum). */
    readonly type: "search-done";
    readonly round: number;
    readonly phase: "train" | "retry";
    readonly wallMs: number;
  }
  | {
    /**
     * A remote policy moved: from now on the model of `round` (the one trained on its data; 0 for
     * the model round 1 searches with) is served at `url` as `model` (`--resume --policy-url`).
     */
    readonly type: "model-served";
    readonly round: number;
    readonly url: string;
    readonly model: string;
  }
  | {
    /**
     * A search knob set by `.control.set` (`rstar ctl set`) while the run went on, in `round`: a
     * resumed run sets it again, so it holds for the rest of the run as it would have without the
     * crash.
     */
    readonly type: "knob-set";
    readonly round: number;
    readonly key: string;
    readonly value: number;
  }
  | { readonly type: "round-finished"; readonly round: number }
  | { readonly type: "run-finished"; readonly ts: string };

/** The event kinds, for validation on replay. */
export const EVENT_TYPES = [
  "run-started",
  "problem-searched",
  "data-persisted",
  "round-trained",
  "problem-evaluated",
  "evaluation-done",
  "faults-recorded",
  "search-done",
  "model-served",
  "knob-set",
  "round-finished",
  "run-finished",
] as const;

/** A ledger line that is neither valid JSON nor a known event (and is not a torn last line). */
export interface LedgerCorrupt {
  readonly _tag: "LedgerCorrupt";
  readonly file: string;
  readonly line: number;
  readonly reason: string;
  readonly message: string;
}

/** Builds a `LedgerCorrupt` value with its message. */
export function ledgerCorrupt(file: string, line: number, reason: string): LedgerCorrupt {
  return {
    _tag: "LedgerCorrupt",
    file,
    line,
    reason,
    message: `Cannot read ledger ${file}:${line}: ${reason}`,
  };
}

/** What a read of the ledger found: the events in order, and whether a torn tail was dropped. */
export interface LedgerRead {
  readonly _tag: "LedgerRead";
  readonly events: LedgerEvent[];
  /** Bytes of valid content (everything up to and including the last newline). */
  readonly validBytes: number;
  readonly tornTail: boolean;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

type FieldKind = "string" | "number" | "boolean" | "object" | "array";

/** The fields every event of a type has (besides `type` and the integer `round`), by kind. */
const EVENT_FIELDS: Readonly<Record<(typeof EVENT_TYPES)[number], Readonly<Record<string, FieldKind>>>> = {
  "run-started": { ts: "string", seed: "number", preset: "string", resumed: "boolean" },
  "problem-searched": {
    problemId: "string",
    level: "number",
    solved: "boolean",
    rollouts: "number",
    tokens: "number",
    wallMs: "number",
    trajectories: "object",
    sft: "array",
    pairs: "array",
    versions: "object",
  },
  "data-persisted": { sft: "number", pairs: "number", files: "array" },
  "round-trained": { losses: "object", versions: "object", checkpoints: "object", tokens: "number", wallMs: "number" },
  "problem-evaluated": { strategy: "string", problemId: "string", samples: "number", tokens: "number" },
  "evaluation-done": {
    strategy: "string",
    samples: "number",
    byLevel: "object",
    accuracy: "number",
    tokens: "number",
    wallMs: "number",
    versions: "object",
  },
  "faults-recorded": { phase: "string", counters: "object" },
  "search-done": { wallMs: "number" },
  "model-served": { url: "string", model: "string" },
  "knob-set": { key: "string", value: "number" },
  "round-finished": {},
  "run-finished": { ts: "string" },
};

function kindOf(v: unknown): FieldKind | undefined {
  if (Array.isArray(v)) return "array";
  if (v === null) return undefined;
  const t = typeof v;
  return t === "string" || t === "boolean" || t === "object" ? t : t === "number" && Number.isFinite(v) ? "number" : undefined;
}

function validate(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const v = value as Record<string, unknown>;
  const type = v.type;
  if (typeof type !== "string") return "missing event type";
  if (!(EVENT_TYPES as readonly string[]).includes(type)) return `unknown event type "${type}"`;
  const first = type === "model-served" ? 0 : 1;
  if (type !== "run-started" && type !== "run-finished" && !(Number.isInteger(v.round) && (v.round as number) >= first)) {
    return `event "${type}" has no round (a whole number from ${first})`;
  }
  if ((type === "problem-searched" || type === "search-done") && v.phase !== "train" && v.phase !== "retry") {
    return `${type} event has a bad phase`;
  }
  for (const [field, kind] of Object.entries(EVENT_FIELDS[type as (typeof EVENT_TYPES)[number]])) {
    if (kindOf(v[field]) !== kind) return `${type} event has no ${field} (${kind === "array" ? "an array" : `a ${kind}`})`;
  }
  return undefined;
}

/** Reads and validates a ledger; a missing file reads as empty. */
export function readLedger(file: string): LedgerRead | LedgerCorrupt {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return { _tag: "LedgerRead", events: [], validBytes: 0, tornTail: false };
    }
    throw err;
  }
  const lastNl = bytes.lastIndexOf(10);
  const validBytes = lastNl + 1;
  const tornTail = validBytes < bytes.length;
  const text = decoder.decode(bytes.subarray(0, validBytes));
  const lines = text.split("\n");
  lines.pop(); // the empty string after the last newline
  const events: LedgerEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim().length === 0) return ledgerCorrupt(file, i + 1, "empty line");
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      return ledgerCorrupt(file, i + 1, `invalid JSON (${(err as Error).message})`);
    }
    const problem = validate(value);
    if (problem !== undefined) return ledgerCorrupt(file, i + 1, problem);
    events.push(value as LedgerEvent);
  }
  return { _tag: "LedgerRead", events, validBytes, tornTail };
}

/** An open ledger: `append` writes one line and syncs it to disk before returning. */
export class Ledger {
  private constructor(
    /** Path of the JSONL file. */
    readonly file: string,
    private readonly handle: Deno.FsFile,
    /** Events read at open time plus those appended since, in order. */
    readonly events: LedgerEvent[],
    /** True when opening dropped a torn last line. */
    readonly recoveredTornTail: boolean,
  ) {}

  /** Opens (creating if needed) a ledger, replays it, and truncates a torn last line away. */
  static open(file: string): Ledger | LedgerCorrupt {
    const read = readLedger(file);
    if (read._tag === "LedgerCorrupt") return read;
    if (read.tornTail) {
      const h = Deno.openSync(file, { write: true });
      try {
        h.truncateSync(read.validBytes);
        h.syncDataSync();
      } finally {
        h.close();
      }
    }
    const handle = Deno.openSync(file, { append: true, create: true });
    return new Ledger(file, handle, read.events, read.tornTail);
  }

  /** Appends one event as one line and waits until it is on disk (fdatasync). */
  append(event: LedgerEvent): void {
    const data = encoder.encode(JSON.stringify(event) + "\n");
    let off = 0;
    while (off < data.length) off += this.handle.writeSync(data.subarray(off));
    this.handle.syncDataSync();
    this.events.push(event);
  }

  /** Closes the file handle. */
  close(): void {
    try {
      this.handle.close();
    } catch {
      // already closed
    }
  }
}

/** Key of one (round, phase, problem) search record. */
export function searchKey(round: number, phase: string, problemId: string): string {
  return `${round}:${phase}:${problemId}`;
}

/** The run state rebuilt from a ledger. Every (round, phase, problem) counts once. */
export interface RunState {
  /** First record of each searched (round, phase, problem), keyed by `searchKey`. */
  readonly searched: Map<string, Extract<LedgerEvent, { type: "problem-searched" }>>;
  /** Records beyond the first for an already-recorded (round, phase, problem). */
  readonly duplicates: number;
  readonly persisted: Map<number, Extract<LedgerEvent, { type: "data-persisted" }>>;
  readonly trained: Map<number, Extract<LedgerEvent, { type: "round-trained" }>>;
  /** Evaluations keyed by `${round}:${strategy}`. */
  readonly evaluated: Map<string, Extract<LedgerEvent, { type: "evaluation-done" }>>;
  /** First record of each evaluated problem, by `${round}:${strategy}` and then problem id. */
  readonly problemsEvaluated: Map<string, Map<string, Extract<LedgerEvent, { type: "problem-evaluated" }>>>;
  readonly roundsFinished: Set<number>;
  readonly finished: boolean;
  readonly starts: number;
  /** Fault counters summed over every search call (including calls before a resume). */
  readonly injected: Record<string, number>;
  /** Wall time of finished search passes by round (every session's share summed). */
  readonly searchWallMs: Map<number, number>;
  /** Where each round's remote model is served now, where a `model-served` event moved it. */
  readonly served: Map<number, { readonly url: string; readonly model: string }>;
  /** The search knobs `knob-set` events set, the last value of each. */
  readonly knobs: Record<string, number>;
}

/** The round whose training data is persisted and whose models are not recorded yet, if any. */
export function roundAwaitingTraining(state: RunState): number | undefined {
  return [...state.persisted.keys()].find((r) => !state.trained.has(r));
}

/** Folds ledger events into the run state. */
export function replay(events: readonly LedgerEvent[]): RunState {
  const state: RunState = {
    searched: new Map(),
    duplicates: 0,
    persisted: new Map(),
    trained: new Map(),
    evaluated: new Map(),
    problemsEvaluated: new Map(),
    roundsFinished: new Set(),
    finished: false,
    starts: 0,
    injected: {},
    searchWallMs: new Map(),
    served: new Map(),
    knobs: {},
  };
  for (const e of events) foldEvent(state, e);
  return state;
}

/**
 * Folds one more event into `state`, in place (its maps and counters change), and returns it:
 * `foldEvent(replay(events), e)` equals `replay([...events, e])`, in constant time where a
 * replay of a growing ledger after each append costs time quadratic in its length.
 */
export function foldEvent(state: RunState, e: LedgerEvent): RunState {
  const s = state as { -readonly [K in keyof RunState]: RunState[K] };
  switch (e.type) {
    case "run-started":
      s.starts++;
      break;
    case "problem-searched": {
      const key = searchKey(e.round, e.phase, e.problemId);
      if (s.searched.has(key)) s.duplicates++;
      else s.searched.set(key, e);
      break;
    }
    case "data-persisted":
      if (!s.persisted.has(e.round)) s.persisted.set(e.round, e);
      break;
    case "round-trained":
      if (!s.trained.has(e.round)) s.trained.set(e.round, e);
      break;
    case "problem-evaluated": {
      const key = `${e.round}:${e.strategy}`;
      const done = s.problemsEvaluated.get(key) ?? new Map();
      if (!done.has(e.problemId)) done.set(e.problemId, e);
      s.problemsEvaluated.set(key, done);
      break;
    }
    case "evaluation-done": {
      const key = `${e.round}:${e.strategy}`;
      if (!s.evaluated.has(key)) s.evaluated.set(key, e);
      break;
    }
    case "round-finished":
      s.roundsFinished.add(e.round);
      break;
    case "faults-recorded":
      for (const [k, v] of Object.entries(e.counters)) s.injected[k] = (s.injected[k] ?? 0) + v;
      break;
    case "search-done":
      s.searchWallMs.set(e.round, (s.searchWallMs.get(e.round) ?? 0) + e.wallMs);
      break;
    case "model-served":
      s.served.set(e.round, { url: e.url, model: e.model });
      break;
    case "knob-set":
      s.knobs[e.key] = e.value;
      break;
    case "run-finished":
      s.finished = true;
      break;
  }
  return s;
}
