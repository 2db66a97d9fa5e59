/**
 * Where a run stands, read from its directory alone (the ledger, and the training state files of
 * a round that was training): what `rstar status` prints. Nothing is written, so it is safe on a
 * run that another process is running or that crashed.
 */
import type { LedgerEvent } from "./ledger.ts";
import { replay, roundAwaitingTraining, searchKey } from "./ledger.ts";
import { type EvolveConfig, needsScorer } from "./config.ts";
import { type LockHolder, type RunPaths, runningHolder } from "./runDirectory.ts";
import { buildSummary, type RunSummary } from "./summary.ts";
import { trainStateFromBytes } from "../../models/trainState.ts";
import { trainStatePath } from "./trainStateFile.ts";

/** A training run's last saved state. */
export interface SavedTraining {
  readonly step: number;
  readonly total: number;
  readonly finished: boolean;
  /** When the file was written (ISO time). */
  readonly savedAt: string;
}

/** The round in progress. */
export interface RoundStatus {
  readonly round: number;
  /** First search pass: problems recorded, of the round's problems. */
  readonly search: { readonly recorded: number; readonly problems: number };
  /**
   * Second pass over the first pass's unsolved problems: recorded so far, of those unsolved so
   * far (all of them once the first pass is done).
   */
  readonly retry: { readonly recorded: number; readonly problems: number };
  /**
   * `done` once both checkpoints are recorded; until then each training run's last saved state,
   * where one was saved.
   */
  readonly training: { readonly done: boolean; readonly sft?: SavedTraining; readonly ppm?: SavedTraining };
  /** Test problems recorded per strategy, and whether its evaluation is done. */
  readonly evaluation: Readonly<
    Record<string, { readonly recorded: number; readonly problems: number; readonly done: boolean }>
  >;
}

/** What `rstar status` reports. */
export interface RunStatus {
  readonly run: string;
  readonly preset: string;
  readonly seed: number;
  readonly rounds: number;
  readonly finished: boolean;
  /** Processes that worked on the run (the first start and every resume). */
  readonly starts: number;
  /** The process running the run now (it holds `run.lock`); absent when none does. */
  readonly running?: LockHolder;
  /** The first unfinished round; absent once the run is finished. */
  readonly current?: RoundStatus;
  /** With a remote policy: the round whose exported data waits for a model trained and served elsewhere. */
  readonly waitsForModel?: number;
  /** Search knobs set by `ctl set` while the run went on (the last value of each); absent when none. */
  readonly knobs?: Readonly<Record<string, number>>;
  readonly summary: RunSummary;
}

function savedTraining(path: string): SavedTraining | undefined {
  try {
    const s = trainStateFromBytes(Deno.readFileSync(path), path);
    const mtime = Deno.statSync(path).mtime;
    return {
      step: s.step,
      total: s.total,
      finished: s.finished,
      savedAt: (mtime ?? new Date(0)).toISOString(),
    };
  } catch {
    return undefined; // not written yet, or unreadable (a resume sets it aside and says so)
  }
}

/** The status of a run from its config, ledger events, and the problem ids of each round and of the test split. */
export function runStatus(
  paths: RunPaths,
  config: EvolveConfig,
  events: readonly LedgerEvent[],
  expected: readonly (readonly string[])[],
  testIds: readonly string[],
): RunStatus {
  const state = replay(events);
  const summary = buildSummary({
    seed: config.seed,
    preset: config.preset,
    rounds: config.rounds,
    events,
    expected,
  });
  const waiting = config.model.policy === "openai" ? roundAwaitingTraining(state) : undefined;
  const base = {
    run: paths.root,
    ...withDefined("waitsForModel", waiting),
    preset: config.preset,
    seed: config.seed,
    rounds: config.rounds,
    finished: state.finished,
    starts: state.starts,
    ...withDefined("running", runningHolder(paths)),
    ...withDefined("knobs", Object.keys(state.knobs).length > 0 ? state.knobs : undefined),
  };
  let round = 1;
  while (round <= config.rounds && state.roundsFinished.has(round)) round++;
  if (state.finished || round > config.rounds) return { ...base, summary };
  const ids = expected[round - 1] ?? [];
  const first = ids.map((id) => state.searched.get(searchKey(round, "train", id)));
  const unsolved = ids.filter((_, i) => first[i] !== undefined && !first[i]!.solved);
  const cp = paths.checkpoints(round);
  const training: RoundStatus["training"] = state.trained.has(round) ? { done: true } : {
    done: false,
    ...withDefined("sft", savedTraining(trainStatePath(cp.policy))),
    ...withDefined("ppm", savedTraining(trainStatePath(cp.ppm))),
  };
  const evaluation: Record<string, { recorded: number; problems: number; done: boolean }> = {};
  for (const strategy of config.eval.strategies) {
    // A remote policy's run has no PPM, so the strategies that need one are not run.
    if (config.model.policy === "openai" && needsScorer(strategy)) continue;
    const key = `${round}:${strategy}`;
    evaluation[strategy] = {
      recorded: state.problemsEvaluated.get(key)?.size ?? 0,
      problems: testIds.length,
      done: state.evaluated.has(key),
    };
  }
  return {
    ...base,
    current: {
      round,
      search: { recorded: first.filter((e) => e !== undefined).length, problems: ids.length },
      retry: {
        recorded: unsolved.filter((id) => state.searched.has(searchKey(round, "retry", id))).length,
        problems: unsolved.length,
      },
      training,
      evaluation,
    },
    summary,
  };
}

function withDefined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** The round in progress as one line: `round 2: search 1500/1500, retry 120/135, …`. */
export function formatRoundStatus(r: RoundStatus): string {
  const train = (name: string, s: SavedTraining | undefined) =>
    s === undefined
      ? undefined
      : `${name} ${s.finished ? "trained" : `saved at step ${s.step}/${s.total}`} (${s.savedAt})`;
  const training = r.training.done
    ? "done"
    : [train("SFT", r.training.sft), train("PPM", r.training.ppm)].filter((x) => x !== undefined)
      .join(", ") || "no state saved";
  const evals = Object.entries(r.evaluation).map(([k, e]) =>
    `${k} ${e.done ? "done" : `${e.recorded}/${e.problems}`}`
  ).join(", ");
  // Until the first pass ends, the retry's problems are only those found unsolved so far.
  const retry = r.search.recorded < r.search.problems && r.retry.recorded === 0
    ? `retry after the search (${r.retry.problems} unsolved so far)`
    : `retry ${r.retry.recorded}/${r.retry.problems}`;
  return `round ${r.round}: search ${r.search.recorded}/${r.search.problems}, ${retry}; ` +
    `training: ${training}; evaluation: ${evals || "none"}`;
}
