/**
 * `summary.json`: the run's results, built from the ledger alone (schema in
 * docs/RUN_DIRECTORY.md), and the per-round table printed at the end of `rstar evolve`.
 */
import { type LedgerEvent, type LevelTally, replay, searchKey } from "./ledger.ts";

/** Schema version of summary.json. */
export const SUMMARY_VERSION = 1;

/** A level tally with its rate. */
export interface LevelRate extends LevelTally {
  readonly rate: number;
}

/** Evaluation of one strategy in one round. */
export interface StrategySummary {
  readonly accuracy: number;
  readonly samples: number;
  readonly byLevel: Readonly<Record<string, LevelRate>>;
  readonly tokens: number;
  readonly wallMs: number;
  readonly versions: { readonly policy: string; readonly scorer?: string };
}

/** One round of the summary. */
export interface RoundSummary {
  readonly round: number;
  readonly complete: boolean;
  readonly train: {
    readonly problems: number;
    readonly solved: number;
    readonly solveRate: number;
    readonly byLevel: Readonly<Record<string, LevelRate>>;
    readonly retried: number;
    readonly solvedOnRetry: number;
    readonly rollouts: number;
  };
  readonly sft: number;
  /**
   * Of the SFT picks on problems with a reference solution, how many solve it the way the reference
   * does (the rest reached the right answer by a coincidence); by problem level.
   */
  readonly sftMatchesReference?: LevelRate & { readonly byLevel: Readonly<Record<string, LevelRate>> };
  readonly pairs: number;
  readonly losses: { readonly policy: readonly number[]; readonly ppm: readonly number[] };
  /** Optimiser steps the round's training took (absent where the ledger does not record them). */
  readonly trainSteps?: { readonly policy: number; readonly ppm: number };
  readonly evaluation: Readonly<Record<string, StrategySummary>>;
  readonly wallMs: { readonly search: number; readonly train: number; readonly eval: number; readonly total: number };
  readonly tokens: { readonly search: number; readonly train: number; readonly eval: number };
  readonly versions: {
    /** Models that searched this round's problems. */
    readonly search: readonly string[];
    /** Models this round trained. */
    readonly trained?: { readonly policy: string; readonly scorer?: string };
  };
}

/** The whole summary.json. */
export interface RunSummary {
  readonly format: "rstar-summary";
  readonly version: number;
  readonly seed: number;
  readonly preset: string;
  readonly rounds: readonly RoundSummary[];
  readonly finished: boolean;
  readonly faults: {
    /** Times the run was started again with --resume. */
    readonly resumes: number;
    /** Torn last ledger lines recovered at open. */
    readonly tornTails: number;
    /** Ledger records of an already-recorded (round, phase, problem). */
    readonly duplicateRecords: number;
    /** Expected (round, problem) records that are missing in finished rounds. */
    readonly missingRecords: number;
    /**
     * Injected faults and the system's answers, summed over the run (`--chaos`): dropped,
     * duplicated, delayed, reordered messages; crashes injected; requests retried; duplicate
     * replies ignored. Without chaos only what happened anyway (`retries`, NATS `reconnects`).
     */
    readonly injected: Readonly<Record<string, number>>;
  };
  /** (round, problem) records missing or duplicated: must be 0. */
  readonly lost: number;
}

function rate(t: LevelTally): LevelRate {
  return { n: t.n, correct: t.correct, rate: t.n === 0 ? 0 : t.correct / t.n };
}

function add(map: Map<string, { n: number; correct: number }>, level: number, ok: boolean): void {
  const key = String(level);
  const t = map.get(key) ?? { n: 0, correct: 0 };
  t.n++;
  if (ok) t.correct++;
  map.set(key, t);
}

function sorted(map: Map<string, { n: number; correct: number }>): Record<string, LevelRate> {
  const out: Record<string, LevelRate> = {};
  for (const k of [...map.keys()].sort((a, b) => Number(a) - Number(b))) out[k] = rate(map.get(k)!);
  return out;
}

/** A tally over all levels, with the per-level tallies. */
function total(map: Map<string, { n: number; correct: number }>): LevelRate & { byLevel: Record<string, LevelRate> } {
  let n = 0;
  let correct = 0;
  for (const t of map.values()) {
    n += t.n;
    correct += t.correct;
  }
  return { ...rate({ n, correct }), byLevel: sorted(map) };
}

/** Inputs besides the ledger: the problem ids each round was meant to search. */
export interface SummaryInput {
  readonly seed: number;
  readonly preset: string;
  readonly rounds: number;
  readonly events: readonly LedgerEvent[];
  /** Training problem ids of round K (index K − 1). */
  readonly expected: readonly (readonly string[])[];
}

/** Builds the summary from ledger events. */
export function buildSummary(input: SummaryInput): RunSummary {
  const state = replay(input.events);
  const rounds: RoundSummary[] = [];
  let missing = 0;
  let tornTails = 0;
  for (const e of input.events) {
    if (e.type === "run-started" && e.recoveredTornTail) tornTails++;
  }
  for (let round = 1; round <= input.rounds; round++) {
    const ids = input.expected[round - 1] ?? [];
    const complete = state.roundsFinished.has(round);
    const byLevel = new Map<string, { n: number; correct: number }>();
    let solved = 0;
    let problems = 0;
    let retried = 0;
    let solvedOnRetry = 0;
    let rollouts = 0;
    let sft = 0;
    const sftRef = new Map<string, { n: number; correct: number }>();
    let pairs = 0;
    let searchMs = 0;
    let searchTokens = 0;
    const versions = new Set<string>();
    for (const id of ids) {
      const first = state.searched.get(searchKey(round, "train", id));
      if (first === undefined) {
        if (complete) missing++;
        continue;
      }
      const retry = state.searched.get(searchKey(round, "retry", id));
      if (!first.solved && retry === undefined && complete) missing++;
      problems++;
      const ok = first.solved || (retry?.solved ?? false);
      if (ok) solved++;
      if (retry !== undefined) {
        retried++;
        if (retry.solved) solvedOnRetry++;
      }
      add(byLevel, first.level, ok);
      for (const r of retry === undefined ? [first] : [first, retry]) {
        rollouts += r.rollouts;
        sft += r.sft.length;
        for (const x of r.sft) if (x.matchesReference !== undefined) add(sftRef, r.level, x.matchesReference);
        pairs += r.pairs.length;
        searchMs += r.wallMs;
        searchTokens += r.tokens;
        versions.add(r.versions.scorer ? `${r.versions.policy}+${r.versions.scorer}` : r.versions.policy);
      }
    }
    // Problems are searched concurrently: a pass's own wall time, where recorded, replaces the
    // sum of per-problem times (runs from before search-done events keep that sum).
    searchMs = state.searchWallMs.get(round) ?? searchMs;
    const trained = state.trained.get(round);
    const evaluation: Record<string, StrategySummary> = {};
    let evalMs = 0;
    let evalTokens = 0;
    for (const [key, e] of state.evaluated) {
      if (!key.startsWith(`${round}:`)) continue;
      const byL: Record<string, LevelRate> = {};
      for (const k of Object.keys(e.byLevel).sort((a, b) => Number(a) - Number(b))) byL[k] = rate(e.byLevel[k]!);
      evaluation[e.strategy] = {
        accuracy: e.accuracy,
        samples: e.samples,
        byLevel: byL,
        tokens: e.tokens,
        wallMs: e.wallMs,
        versions: e.versions,
      };
      evalMs += e.wallMs;
      evalTokens += e.tokens;
    }
    const trainMs = trained?.wallMs ?? 0;
    rounds.push({
      round,
      complete,
      train: {
        problems,
        solved,
        solveRate: problems === 0 ? 0 : solved / problems,
        byLevel: sorted(byLevel),
        retried,
        solvedOnRetry,
        rollouts,
      },
      sft,
      ...(sftRef.size > 0 ? { sftMatchesReference: total(sftRef) } : {}),
      pairs,
      losses: { policy: trained?.losses.policy ?? [], ppm: trained?.losses.ppm ?? [] },
      ...(trained?.steps !== undefined ? { trainSteps: trained.steps } : {}),
      evaluation,
      wallMs: { search: searchMs, train: trainMs, eval: evalMs, total: searchMs + trainMs + evalMs },
      tokens: { search: searchTokens, train: trained?.tokens ?? 0, eval: evalTokens },
      versions: {
        search: [...versions].sort(),
        ...(trained ? { trained: trained.versions } : {}),
      },
    });
  }
  return {
    format: "rstar-summary",
    version: SUMMARY_VERSION,
    seed: input.seed,
    preset: input.preset,
    rounds,
    finished: state.finished,
    faults: {
      resumes: Math.max(0, state.starts - 1),
      tornTails,
      duplicateRecords: state.duplicates,
      missingRecords: missing,
      injected: state.injected,
    },
    lost: missing + state.duplicates,
  };
}

function pct(x: number | undefined): string {
  return x === undefined ? "-" : `${(100 * x).toFixed(1)}`;
}

/** The per-round table for stdout (accuracies in percent). */
export function formatTable(summary: RunSummary): string {
  const strategies = ["greedy", "bon-vote", "bon-ppm", "mcts"];
  const levels = new Set<string>();
  for (const r of summary.rounds) for (const k of Object.keys(r.train.byLevel)) levels.add(k);
  // Level 0 is a dataset problem without a level: its column is "L?%", and a run whose problems
  // all lack one has no level columns (solve% says it all). mcts-L5 shows where level 5 is tested
  // (or, before any evaluation, searched).
  const lv = [...levels].sort((a, b) => Number(a) - Number(b));
  const levelColumns = lv.length === 1 && lv[0] === "0" ? [] : lv;
  const tested = summary.rounds.flatMap((r) => Object.values(r.evaluation));
  const mctsL5 = tested.length > 0 ? tested.some((e) => e?.byLevel["5"] !== undefined) : levels.has("5");
  const head = [
    "round",
    "solve%",
    ...levelColumns.map((l) => `L${l === "0" ? "?" : l}%`),
    "sft",
    "ref%",
    "pairs",
    ...strategies,
    ...(mctsL5 ? ["mcts-L5"] : []),
    "wall",
  ];
  // Rounds not started yet (an unfinished run's later rounds) get no row; round 1 always does.
  const started = (r: RoundSummary) => r.complete || r.wallMs.total > 0 || r.train.problems > 0 || Object.keys(r.evaluation).length > 0;
  const shown = summary.rounds.slice(0, Math.max(1, summary.rounds.findLastIndex(started) + 1));
  const rows: string[][] = [head];
  for (const r of shown) {
    const mcts = r.evaluation["mcts"];
    rows.push([
      String(r.round) + (r.complete ? "" : "*"),
      pct(r.train.problems ? r.train.solveRate : undefined),
      ...levelColumns.map((l) => pct(r.train.byLevel[l]?.rate)),
      String(r.sft),
      pct(r.sftMatchesReference?.rate),
      String(r.pairs),
      ...strategies.map((s) => pct(r.evaluation[s]?.accuracy)),
      ...(mctsL5 ? [pct(mcts?.byLevel["5"]?.rate)] : []),
      `${(r.wallMs.total / 1000).toFixed(0)}s`,
    ]);
  }
  const widths = head.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => c.padStart(widths[i]!)).join("  "));
  const injected = Object.entries(summary.faults.injected ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
  if (injected.length > 0) lines.push(`faults: ${injected}`);
  lines.push(`lost ${summary.lost}, resumes ${summary.faults.resumes}` + (summary.finished ? "" : " (run not finished)"));
  return lines.join("\n");
}
