/**
 * The round coordinator: runs rStar-Math's self-evolution recipe over a run directory.
 *
 * Each round K: search the round's training problems one by one (every result goes to the
 * ledger before the next, so `--resume` skips finished ones) → search the unsolved ones again
 * with a bigger budget → persist the round's SFT picks and preference pairs → train the policy
 * (SFT) and the PPM (initialised from the new policy) → evaluate every strategy on the held-out
 * test split without references → round finished. Round 1 searches with the bootstrap proposer,
 * rounds ≥ `ppmFromRound` seed new nodes with the previous round's PPM.
 *
 * The work itself goes through `EvolveServices`, so the coordinator runs with fakes in tests
 * and with the real search, models and evaluation (scripts/run/services.ts) in the CLI.
 */
import type { Problem } from "../math/contracts.ts";
import { hashString } from "../math/prng.ts";
import { configProblem, type EvolveConfig, needsScorer, roundKnobs, type SearchKnobs, type Strategy } from "../scripts/run/config.ts";
import {
  Ledger,
  type LedgerCorrupt,
  type LedgerEvent,
  type PairExample,
  foldEvent,
  replay,
  roundAwaitingTraining,
  type RunState,
  searchKey,
  type SftExample,
  type Versions,
} from "../scripts/run/ledger.ts";
import { type Progress, silentProgress } from "../scripts/run/progress.ts";
import { renderReport, type SampleTree, sampleTreeFromJson } from "../scripts/run/report.ts";
import {
  createRunDirectory,
  lockRunDirectory,
  openRunDirectory,
  removeUnstartedRun,
  pathExists,
  type RunDirectory,
  type RunDirError,
  writeFileAtomic,
} from "../scripts/run/runDirectory.ts";
import { buildSummary, type RunSummary } from "../scripts/run/summary.ts";
import { join, resolve } from "node:path";
import { formatKnobs } from "./controlState.ts";

/** Which weights a service call uses. */
export type ModelRef =
  | { readonly kind: "bootstrap" }
  | { readonly kind: "checkpoint"; readonly dir: string; readonly version: string }
  /** A policy served by an OpenAI-compatible server (`--policy openai`). */
  | { readonly kind: "remote"; readonly url: string; readonly model: string; readonly version: string };

/** The version a model reference names ("bootstrap" for the bootstrap policy). */
export function refVersion(ref: ModelRef): string {
  return ref.kind === "bootstrap" ? "bootstrap" : ref.version;
}

/** A policy and, when there is one, a PPM. */
export interface ModelRefs {
  readonly policy: ModelRef;
  readonly scorer?: ModelRef;
}

/** A batch of training problems to search. */
export interface SearchRequest {
  readonly round: number;
  readonly phase: "train" | "retry";
  readonly problems: readonly Problem[];
  readonly knobs: SearchKnobs;
  /** The retry's `retryMultiplier` (already in `knobs.rollouts`), for a `rollouts` set while the run goes. */
  readonly rolloutScale?: number;
  readonly policy: ModelRef;
  /** PPM that seeds new nodes' values; absent for terminal-guided rounds. */
  readonly scorer?: ModelRef;
  /** Batch seed; a service derives each problem's seed from it and the problem id only. */
  readonly seed: number;
  readonly sftPerProblem: number;
  readonly pairs: { readonly margin: number; readonly perSide: number };
  readonly concurrency: number;
}

/** The outcome of searching one training problem. */
/** Counters of injected faults and of the system's answers to them (retries, restarts, ...). */
export interface SearchFaults {
  readonly faults: Readonly<Record<string, number>>;
}

export interface SearchOutcome {
  readonly problemId: string;
  readonly solved: boolean;
  readonly answer?: string;
  readonly rollouts: number;
  readonly tokens: number;
  readonly wallMs: number;
  readonly trajectories: { readonly total: number; readonly correct: number };
  readonly sft: readonly SftExample[];
  readonly pairs: readonly PairExample[];
  readonly versions: Versions;
  /** The search tree as JSON (saved for the report's sample tree). */
  readonly tree?: unknown;
}

/** A training request: this round's (or accumulated) data, and where to write the checkpoints. */
export interface TrainRequest {
  readonly round: number;
  readonly sft: readonly SftExample[];
  readonly pairs: readonly PairExample[];
  /** Policy to fine-tune; absent = train from freshly initialised weights. */
  readonly init?: ModelRef;
  readonly policyDir: string;
  readonly ppmDir: string;
  readonly seed: number;
  readonly config: EvolveConfig;
}

/** What training produced. */
export interface TrainOutcome {
  readonly losses: { readonly policy: readonly number[]; readonly ppm: readonly number[] };
  /** Optimiser steps each model took (a step or time limit may stop training before its epochs end). */
  readonly steps?: { readonly policy: number; readonly ppm: number };
  readonly versions: { readonly policy: string; readonly scorer: string };
  readonly tokens: number;
}

/** One evaluation: a strategy over test problems whose answers were removed. */
export interface EvalRequest {
  readonly round: number;
  readonly strategy: Strategy;
  /** Test problems with `answer` set to "" (the search never sees references). */
  readonly problems: readonly Problem[];
  readonly policy: ModelRef;
  readonly scorer?: ModelRef;
  /** Sample budget N per problem (greedy uses one). */
  readonly samples: number;
  readonly temperature: number;
  readonly k: number;
  readonly seed: number;
}

/**
 * The request that evaluates `strategy` with a round's models under the run's settings: the same
 * for the run's own evaluation and for `rstar eval`, so both give the same figures.
 */
export function evalRequest(
  config: EvolveConfig,
  round: number,
  strategy: Strategy,
  problems: readonly Problem[],
  policy: ModelRef,
  scorer: ModelRef | undefined,
): EvalRequest {
  return {
    round,
    strategy,
    problems,
    policy,
    ...(needsScorer(strategy) && scorer ? { scorer } : {}),
    samples: strategy === "greedy" ? 1 : config.eval.samples,
    temperature: config.eval.temperature,
    k: config.eval.k,
    // Best-of-N by vote and by the PPM share a seed: the same N solutions, chosen two ways.
    seed: deriveSeed(config.seed, "eval", round, strategy.startsWith("bon-") ? "bon" : strategy),
  };
}

/** One problem's evaluation: the chosen answer (if any) and the policy samples and tokens it took. */
export interface ProblemEvaluation {
  readonly problemId: string;
  readonly answer?: string;
  readonly samples: number;
  readonly tokens: number;
}

/** Chosen answers of an evaluation, one per problem (missing answer = none). */
export interface EvalOutcome {
  readonly answers: ReadonlyMap<string, string | undefined>;
  /** Policy samples actually used per problem, on average. */
  readonly samples: number;
  readonly tokens: number;
  readonly versions: Versions;
}

/** Progress callbacks a service may use for long phases. */
export interface ServiceContext {
  readonly progress: Progress;
  /**
   * A search call's fault counters so far (totals since the call began), which the coordinator
   * records at once, so a crash later in the call does not take them with it. The totals the call
   * returns are recorded the same way: only what they add to the last report.
   */
  readonly faults?: (totals: Readonly<Record<string, number>>) => void;
}

/** The work the coordinator delegates: problems, search, training, evaluation, grading. */
export interface EvolveServices {
  /** Called once with the run's config before any other call (open executors, backends). */
  start?(config: EvolveConfig): Promise<void>;
  /** Training problems of round K (deterministic for a config and round). */
  trainProblems(config: EvolveConfig, round: number): Promise<Problem[]>;
  /** The held-out test problems, with references (the coordinator strips them before search). */
  testProblems(config: EvolveConfig): Promise<Problem[]>;
  /** Searches each problem and awaits `onResult` for it before starting another. */
  search(
    req: SearchRequest,
    onResult: (r: SearchOutcome) => Promise<void>,
    ctx: ServiceContext,
  ): Promise<void | SearchFaults>;
  /** Trains the policy (SFT) and the PPM, writing both checkpoints. */
  train(req: TrainRequest, ctx: ServiceContext): Promise<TrainOutcome>;
  /**
   * Runs one strategy on the test problems; with `onResult`, awaits it for each problem as it is
   * answered (the coordinator records it, so an interrupted evaluation resumes after it).
   */
  evaluate(req: EvalRequest, ctx: ServiceContext, onResult?: (r: ProblemEvaluation) => Promise<void>): Promise<EvalOutcome>;
  /**
   * Told the round and phase as the run moves on (`search-train`, `train`, `eval-greedy`,
   * `finished`…), with the run's newest models then: the last trained round's policy and PPM, or
   * round 1's search policy before any round is trained.
   */
  phase?(round: number, phase: string, newest: ModelRefs): void;
  /**
   * Called once after `start`, with the search knobs an earlier process of this run was set to
   * (`.control.set`, recorded in the ledger; empty for a new run), to set them again, and a
   * `record` to call with each knob set from now on.
   */
  knobs?(restored: Readonly<Record<string, number>>, record: (key: string, value: number) => void): void;
  /** Milliseconds the run has spent paused (`.control.pause`) so far; not counted as work. */
  pausedMs?(): number;
  /** Grades a predicted answer against a reference. */
  answersEqual(pred: string, gold: string): boolean;
  /** Releases models, workers and connections. */
  close(): Promise<void>;
}

/** How to run. */
export interface EvolveOptions {
  readonly runDir: string;
  readonly resume: boolean;
  /** Config of a new run (ignored on resume: the run's config.json wins). */
  readonly config?: EvolveConfig;
  readonly progress?: Progress;
  /** Called after each ledger append (observers and fault-injection tests). */
  readonly onEvent?: (event: LedgerEvent, index: number) => void;
  /** Called on round and phase changes (control status). */
  readonly onPhase?: (round: number, phase: string) => void;
  /** Wall clock in milliseconds (injected for tests). */
  readonly now?: () => number;
  /**
   * With a remote policy: the server now serving the model trained on the exported data of the
   * first untrained round (`--resume --policy-url URL --model NAME`).
   */
  readonly served?: { readonly url: string; readonly model: string };
  /**
   * Faults to inject in this process (`--resume --chaos SPEC`), in place of the run's own
   * `chaos`; "" injects none. Faults change no result, so a resume may choose them.
   */
  readonly chaos?: string;
}

/** `config` injecting the faults of `spec` ("" for none) instead of its own. */
function withChaos(config: EvolveConfig, spec: string): EvolveConfig {
  const { chaos: _, ...rest } = config;
  return spec === "" ? rest : { ...rest, chaos: spec };
}

/** A finished (or stopped) run. */
export interface EvolveDone {
  readonly _tag: "EvolveDone";
  readonly summary: RunSummary;
  readonly runDir: string;
  /** True when `--resume` found the run already finished and did nothing. */
  readonly alreadyFinished: boolean;
}

/**
 * A run with a remote policy that stopped after exporting a round's training data: the model
 * must be trained and served elsewhere before the run can go on.
 */
export interface EvolveStopped {
  readonly _tag: "EvolveStopped";
  readonly runDir: string;
  readonly round: number;
  readonly files: readonly string[];
  /** What to do next, for the user. */
  readonly message: string;
}

/** Why a run could not go on. */
export type EvolveError = RunDirError | LedgerCorrupt | {
  /** No config was given for a new run, or one of its settings is unusable (the message names it). */
  readonly _tag: "ConfigMissing" | "ConfigInvalid";
  readonly message: string;
};

/** The version name recorded for a remote policy. */
export function remoteVersion(url: string, model: string): string {
  return `openai:${model}@${url}`;
}

/** Derives a stable seed from a label. */
export function deriveSeed(...parts: (string | number)[]): number {
  const [a, b] = hashString(parts.join(":"));
  return (a ^ (b << 7)) >>> 0;
}

function problemIdsOf(problems: readonly Problem[]): string[] {
  return problems.map((p) => p.id);
}

function searchVersionRefs(config: EvolveConfig, round: number, state: RunState, dir: RunDirectory<EvolveConfig>): ModelRefs {
  if (config.model.policy === "openai") {
    // Round 1 samples the configured server; later rounds the server recorded as serving the
    // model trained on the previous round's data.
    const served = state.served.get(round - 1) ?? (round === 1 ? undefined : state.trained.get(round - 1)?.remote);
    if (round > 1 && !served) throw new Error(`Round ${round} searched before round ${round - 1}'s model was served`);
    const url = served?.url ?? config.model.policyUrl ?? "";
    const model = served?.model ?? config.model.modelName ?? "default";
    return { policy: { kind: "remote", url, model, version: remoteVersion(url, model) } };
  }
  if (round === 1) return { policy: { kind: "bootstrap" } };
  const prev = state.trained.get(round - 1);
  if (!prev) throw new Error(`Round ${round} searched before round ${round - 1} was trained`);
  const cp = dir.paths.checkpoints(round - 1);
  const policy: ModelRef = { kind: "checkpoint", dir: cp.policy, version: prev.versions.policy };
  if (round >= config.search.ppmFromRound && prev.versions.scorer) {
    return { policy, scorer: { kind: "checkpoint", dir: cp.ppm, version: prev.versions.scorer } };
  }
  return { policy };
}

/** The models trained in `round` (which must be recorded as trained). */
export function trainedModels(state: RunState, dir: RunDirectory<EvolveConfig>, round: number): ModelRefs {
  const trained = state.trained.get(round)!;
  const cp = dir.paths.checkpoints(round);
  const moved = state.served.get(round);
  const policy: ModelRef = moved
    ? { kind: "remote", ...moved, version: remoteVersion(moved.url, moved.model) }
    : trained.remote
    ? { kind: "remote", ...trained.remote, version: trained.versions.policy }
    : { kind: "checkpoint", dir: cp.policy, version: trained.versions.policy };
  return trained.versions.scorer ? { policy, scorer: { kind: "checkpoint", dir: cp.ppm, version: trained.versions.scorer } } : { policy };
}

/** The run's newest models: the last trained round's, or round 1's search policy before any. */
function newestModels(config: EvolveConfig, state: RunState, dir: RunDirectory<EvolveConfig>): ModelRefs {
  const last = Math.max(0, ...state.trained.keys());
  return last === 0 ? searchVersionRefs(config, 1, state, dir) : trainedModels(state, dir, last);
}

/** Writes the round's training data in the documented export formats; returns the files' absolute paths. */
function exportRoundData(dir: string, round: number, sft: readonly SftExample[], pairs: readonly PairExample[]): string[] {
  Deno.mkdirSync(dir, { recursive: true });
  const render = (s: { text: string; code: string }) => (s.code ? `# ${s.text}\n${s.code}` : `# ${s.text}`);
  const sftLines = sft.map((e) =>
    JSON.stringify({
      round,
      problem_id: e.problemId,
      problem: e.problem,
      response: e.steps.map(render).join("\n\n"),
      steps: e.steps,
      answer: e.answer,
      q_value: e.meanQ,
    })
  );
  const pairLines = pairs.map((p) =>
    JSON.stringify({
      round,
      problem_id: p.problemId,
      problem: p.problem,
      prefix: p.steps.map(render).join("\n\n"),
      prefix_steps: p.steps,
      pos: render(p.chosen),
      neg: render(p.rejected),
      chosen: p.chosen,
      rejected: p.rejected,
      q_margin: p.margin,
    })
  );
  const sftFile = join(dir, "sft.jsonl");
  const pairFile = join(dir, "ppm_pairs.jsonl");
  writeFileAtomic(sftFile, sftLines.map((l) => l + "\n").join(""));
  writeFileAtomic(pairFile, pairLines.map((l) => l + "\n").join(""));
  return [resolve(sftFile), resolve(pairFile)];
}

/** Collects SFT picks and pairs of one round from the ledger state, in the round's problem order. */
function roundData(state: RunState, round: number, ids: readonly string[]): { sft: SftExample[]; pairs: PairExample[] } {
  const sft: SftExample[] = [];
  const pairs: PairExample[] = [];
  for (const id of ids) {
    for (const phase of ["train", "retry"] as const) {
      const r = state.searched.get(searchKey(round, phase, id));
      if (r) {
        sft.push(...r.sft);
        pairs.push(...r.pairs);
      }
    }
  }
  return { sft, pairs };
}

/**
 * Loads the sample tree saved for the report: the latest round's whose search reached a right
 * answer (a terminal graded right, or of positive value), else the largest (the latest of equals).
 */
function latestSample(dir: RunDirectory<EvolveConfig>, rounds: number): SampleTree | undefined {
  let largest: SampleTree | undefined;
  for (let r = rounds; r >= 1; r--) {
    const f = join(dir.paths.roundDir(r), "sample-tree.json");
    if (!pathExists(f)) continue;
    let tree: SampleTree | undefined;
    try {
      tree = sampleTreeFromJson(r, JSON.parse(Deno.readTextFileSync(f)));
    } catch {
      continue; // unreadable: another round's will do
    }
    if (tree === undefined) continue;
    if (tree.nodes.some((n) => n.terminal && (n.reward ?? n.W) > 0)) return tree;
    if (largest === undefined || tree.nodes.length > largest.nodes.length) largest = tree;
  }
  return largest;
}

/** Builds summary.json and report.html from the ledger; returns the summary. */
export async function writeOutputs(
  dir: RunDirectory<EvolveConfig>,
  events: readonly LedgerEvent[],
  services: Pick<EvolveServices, "trainProblems">,
): Promise<RunSummary> {
  const config = dir.file.config;
  const expected: string[][] = [];
  for (let r = 1; r <= config.rounds; r++) expected.push(problemIdsOf(await services.trainProblems(config, r)));
  const summary = buildSummary({ seed: config.seed, preset: config.preset, rounds: config.rounds, events, expected });
  writeFileAtomic(dir.paths.summary, JSON.stringify(summary, null, 2) + "\n");
  writeFileAtomic(dir.paths.report, renderReport(summary, latestSample(dir, config.rounds)));
  return summary;
}

/** Runs (or resumes) a self-evolution run to the end. */
export async function runEvolve(
  options: EvolveOptions,
  services: EvolveServices,
): Promise<EvolveDone | EvolveStopped | EvolveError> {
  const progress = options.progress ?? silentProgress;
  const now = options.now ?? (() => Date.now());
  let dir: RunDirectory<EvolveConfig> | RunDirError;
  if (options.resume) dir = openRunDirectory<EvolveConfig>(options.runDir, configProblem);
  else {
    if (!options.config) return { _tag: "ConfigMissing", message: "Cannot start a run: no config was given" };
    const problem = configProblem(options.config);
    if (problem !== undefined) return { _tag: "ConfigInvalid", message: `Cannot start a run: setting ${problem}` };
    dir = createRunDirectory(options.runDir, options.config.seed, options.config);
  }
  if (dir._tag !== "RunDirectory") return dir;
  // One process runs a run at a time.
  const lock = lockRunDirectory(dir.paths);
  if ("_tag" in lock) return lock;
  // A new run whose services cannot start (NATS unreachable, say) leaves no run behind, so the
  // same command works once the cause is fixed.
  let unstarted = false;
  try {
    const ledger = Ledger.open(dir.paths.ledger);
    if (!(ledger instanceof Ledger)) return ledger;
    try {
      return await runOpened(dir, ledger, options, services, progress, now);
    } catch (err) {
      unstarted = !options.resume && ledger.events.length === 0;
      throw err;
    } finally {
      ledger.close();
    }
  } finally {
    lock.release();
    if (unstarted) removeUnstartedRun(dir.paths, dir.created);
  }
}

async function runOpened(
  dir: RunDirectory<EvolveConfig>,
  ledger: Ledger,
  options: EvolveOptions,
  services: EvolveServices,
  progress: Progress,
  now: () => number,
): Promise<EvolveDone | EvolveStopped> {
  const config = dir.file.config;
  if (options.served && config.model.policy !== "openai") {
    throw new Error(`--policy-url applies to runs with --policy openai; ${dir.paths.root} trains its own policy`);
  }
  let state = replay(ledger.events);
  if (state.finished) {
    const summary = await writeOutputs(dir, ledger.events, services);
    return { _tag: "EvolveDone", summary, runDir: dir.paths.root, alreadyFinished: true };
  }
  let roundNow = 1;
  const phaseChanged = (round: number, phase: string) => {
    roundNow = round;
    options.onPhase?.(round, phase);
    services.phase?.(round, phase, newestModels(config, state, dir));
  };
  const append = (e: LedgerEvent) => {
    ledger.append(e);
    state = foldEvent(state, e);
    options.onEvent?.(e, ledger.events.length - 1);
  };
  // Services first (executors, backends, the NATS link): a run whose services cannot start has
  // not started.
  await services.start?.(options.chaos === undefined ? config : withChaos(config, options.chaos));
  append({
    type: "run-started",
    ts: new Date(now()).toISOString(),
    seed: config.seed,
    preset: config.preset,
    resumed: ledger.events.length > 0,
    ...(ledger.recoveredTornTail ? { recoveredTornTail: true } : {}),
  });
  if (Object.keys(state.knobs).length > 0) progress.event(`knobs set while the run went on hold again: ${formatKnobs(state.knobs)}`);
  services.knobs?.(state.knobs, (key, value) => append({ type: "knob-set", round: roundNow, key, value }));
  // `--resume --policy-url` when no round's exported data waits for its model: the newest model
  // is served elsewhere now (the server recorded went away, or a new run's URL was wrong).
  if (options.served && config.model.policy === "openai" && roundAwaitingTraining(state) === undefined) {
    const last = Math.max(0, ...state.trained.keys());
    const current = newestModels(config, state, dir).policy;
    const { url, model } = options.served;
    if (current.kind !== "remote" || current.url !== url || current.model !== model) {
      append({ type: "model-served", round: last, url, model });
      progress.event(`${last === 0 ? "the starting model" : `round ${last}'s model`}: now served at ${url} (${model})`);
    }
    options = { ...options, served: undefined };
  }
  const ctx: ServiceContext = { progress };
  const test = await services.testProblems(config);
  const blindTest = test.map((p) => ({ ...p, answer: "", solution: undefined } as Problem));

  for (let round = 1; round <= config.rounds; round++) {
    if (state.roundsFinished.has(round)) continue;
    const problems = await services.trainProblems(config, round);
    const ids = problemIdsOf(problems);
    const refs = searchVersionRefs(config, round, state, dir);
    const knobs = roundKnobs(config, round);
    const sampleId = (problems.find((p) => p.level === 3) ?? problems[0])?.id;
    const roundDir = dir.paths.roundDir(round);

    // Search: first pass, then unsolved problems again with a bigger budget.
    for (const phase of ["train", "retry"] as const) {
      // The pass's problems: all of them, or those the first pass recorded unsolved.
      const pass = phase === "train"
        ? problems
        : problems.filter((p) => state.searched.get(searchKey(round, "train", p.id))?.solved === false);
      const todo = pass.filter((p) => !state.searched.has(searchKey(round, phase, p.id)));
      if (todo.length === 0) continue;
      phaseChanged(round, `search-${phase}`);
      const byId = new Map(todo.map((p) => [p.id, p]));
      const label = `round ${round} search${phase === "retry" ? " (retry)" : ""}`;
      if (todo.length < pass.length) progress.event(`${label}: resuming, ${pass.length - todo.length} of ${pass.length} problems recorded`);
      const bar = progress.phase(label, todo.length, "problems");
      let solvedCount = 0;
      const searchStart = now();
      const pausedAtStart = services.pausedMs?.() ?? 0;
      // Counters are recorded as reported, each event holding what was new since the last one.
      let reported: Readonly<Record<string, number>> = {};
      const recordFaults = (totals: Readonly<Record<string, number>>) => {
        const added = Object.fromEntries(
          Object.entries(totals).map(([k, v]) => [k, v - (reported[k] ?? 0)] as const).filter(([, d]) => d > 0),
        );
        reported = { ...reported, ...totals };
        if (Object.keys(added).length > 0) append({ type: "faults-recorded", round, phase, counters: added });
      };
      const searchFaults = await services.search(
        {
          round,
          phase,
          problems: todo,
          ...(phase === "retry"
            ? { knobs: { ...knobs, rollouts: knobs.rollouts * config.search.retryMultiplier }, rolloutScale: config.search.retryMultiplier }
            : { knobs }),
          ...refs,
          seed: deriveSeed(config.seed, "search", round, phase),
          sftPerProblem: config.sft.perProblem,
          pairs: { margin: config.ppm.margin, perSide: config.ppm.perSide },
          concurrency: config.search.concurrency,
        },
        (r) => {
          const p = byId.get(r.problemId);
          if (!p) throw new Error(`Search returned unknown problem ${r.problemId}`);
          if (state.searched.has(searchKey(round, phase, r.problemId))) return Promise.resolve();
          if (r.problemId === sampleId && r.tree !== undefined) {
            Deno.mkdirSync(roundDir, { recursive: true });
            writeFileAtomic(join(roundDir, "sample-tree.json"), JSON.stringify(r.tree));
          }
          append({
            type: "problem-searched",
            round,
            phase,
            problemId: r.problemId,
            level: p.level,
            solved: r.solved,
            ...(r.answer !== undefined ? { answer: r.answer } : {}),
            rollouts: r.rollouts,
            tokens: r.tokens,
            wallMs: r.wallMs,
            trajectories: r.trajectories,
            sft: r.sft,
            pairs: r.pairs,
            versions: r.versions,
          });
          if (r.solved) solvedCount++;
          bar.tick(1, `solved ${solvedCount}`);
          return Promise.resolve();
        },
        { ...ctx, faults: recordFaults },
      );
      bar.done(`solved ${solvedCount}/${todo.length}`);
      const pausedMs = (services.pausedMs?.() ?? 0) - pausedAtStart;
      append({ type: "search-done", round, phase, wallMs: now() - searchStart - pausedMs });
      if (searchFaults) recordFaults(searchFaults.faults);
      const missing = todo.filter((p) => !state.searched.has(searchKey(round, phase, p.id)));
      if (missing.length > 0) {
        throw new Error(`Search of round ${round} (${phase}) returned no result for ${missing.map((p) => p.id).join(", ")}`);
      }
    }

    // Persist this round's training data (and the data the training will use).
    if (!state.persisted.has(round)) {
      const { sft, pairs } = roundData(state, round, ids);
      const files = exportRoundData(roundDir, round, sft, pairs);
      append({ type: "data-persisted", round, sft: sft.length, pairs: pairs.length, files });
    }

    // A remote policy cannot be trained here: the round's exported data is trained elsewhere,
    // and the run goes on once `--resume --policy-url` names the server that serves the result.
    if (!state.trained.has(round) && config.model.policy === "openai") {
      const files = state.persisted.get(round)?.files ?? [];
      if (!options.served) {
        const message = `Round ${round}'s training data is exported: ${files.join(", ")}. ` +
          `Fine-tune the policy on sft.jsonl (and a PPM on ppm_pairs.jsonl, optional), serve it ` +
          `with an OpenAI-compatible server, then continue with: rstar evolve --resume --run ${
            dir.paths.root
          } --policy openai --policy-url NEW_URL --model NAME`;
        progress.event(message);
        return { _tag: "EvolveStopped", runDir: dir.paths.root, round, files, message };
      }
      const served = options.served;
      options = { ...options, served: undefined };
      append({
        type: "round-trained",
        round,
        losses: { policy: [], ppm: [] },
        versions: { policy: remoteVersion(served.url, served.model) },
        checkpoints: { policy: "", ppm: "" },
        remote: served,
        tokens: 0,
        wallMs: 0,
      });
      progress.event(`round ${round}: the model trained on its data is served at ${served.url} (${served.model})`);
    }

    // Train the policy and the PPM (skipped when this round's checkpoints are recorded).
    if (!state.trained.has(round)) {
      phaseChanged(round, "train");
      const sft: SftExample[] = [];
      const pairs: PairExample[] = [];
      for (let r = config.sft.accumulate ? 1 : round; r <= round; r++) {
        const ids_r = r === round ? ids : problemIdsOf(await services.trainProblems(config, r));
        sft.push(...roundData(state, r, ids_r).sft);
      }
      for (let r = config.ppm.accumulate ? 1 : round; r <= round; r++) {
        const ids_r = r === round ? ids : problemIdsOf(await services.trainProblems(config, r));
        pairs.push(...roundData(state, r, ids_r).pairs);
      }
      const cp = dir.paths.checkpoints(round);
      const prev = state.trained.get(round - 1);
      const init: ModelRef | undefined = config.sft.init === "previous" && prev
        ? { kind: "checkpoint", dir: dir.paths.checkpoints(round - 1).policy, version: prev.versions.policy }
        : undefined;
      const t0 = now();
      const out = await services.train(
        {
          round,
          sft,
          pairs,
          ...(init ? { init } : {}),
          policyDir: cp.policy,
          ppmDir: cp.ppm,
          seed: deriveSeed(config.seed, "train", round),
          config,
        },
        ctx,
      );
      append({
        type: "round-trained",
        round,
        losses: out.losses,
        ...(out.steps !== undefined ? { steps: out.steps } : {}),
        versions: out.versions,
        checkpoints: cp,
        tokens: out.tokens,
        wallMs: now() - t0,
      });
      progress.event(
        `round ${round} trained: ${sft.length} SFT examples, ${pairs.length} pairs, policy loss ${
          fmtLoss(out.losses.policy)
        }, PPM loss ${fmtLoss(out.losses.ppm)}${out.steps ? ` (${out.steps.policy} + ${out.steps.ppm} steps)` : ""}`,
      );
    }

    // Evaluate every strategy on the held-out test split, without references.
    const { policy, scorer } = trainedModels(state, dir, round);
    for (const strategy of config.eval.strategies) {
      if (state.evaluated.has(`${round}:${strategy}`)) continue;
      if (needsScorer(strategy) && !scorer) continue;
      phaseChanged(round, `eval-${strategy}`);
      // Problems an interrupted session evaluated are recorded; only the others are evaluated.
      const key = `${round}:${strategy}`;
      const recorded = [...(state.problemsEvaluated.get(key)?.values() ?? [])];
      const prior = Math.max(0, ...recorded.map((e) => e.elapsedMs));
      if (recorded.length > 0) progress.event(`round ${round} eval ${strategy}: resuming, ${recorded.length} of ${test.length} test problems recorded`);
      const t0 = now();
      const out = await services.evaluate(
        evalRequest(config, round, strategy, blindTest.filter((p) => !state.problemsEvaluated.get(key)?.has(p.id)), policy, scorer),
        ctx,
        (r) => {
          append({ type: "problem-evaluated", round, strategy, ...r, elapsedMs: prior + now() - t0 });
          return Promise.resolve();
        },
      );
      const records = state.problemsEvaluated.get(key) ?? new Map();
      const missing = test.find((p) => !records.has(p.id));
      if (missing !== undefined) throw new Error(`The evaluation service did not report test problem ${missing.id} (${key})`);
      const byLevel: Record<string, { n: number; correct: number }> = {};
      let correct = 0;
      let samples = 0;
      let tokens = 0;
      for (const p of test) {
        const r = records.get(p.id)!;
        const pred = r.answer;
        samples += r.samples;
        tokens += r.tokens;
        const ok = pred !== undefined && services.answersEqual(pred, p.answer);
        const level = String(p.level);
        const t = byLevel[level] ?? { n: 0, correct: 0 };
        t.n++;
        if (ok) {
          t.correct++;
          correct++;
        }
        byLevel[level] = t;
      }
      const accuracy = test.length === 0 ? 0 : correct / test.length;
      append({
        type: "evaluation-done",
        round,
        strategy,
        samples: test.length === 0 ? 0 : samples / test.length,
        byLevel,
        accuracy,
        tokens,
        wallMs: prior + now() - t0,
        versions: out.versions,
      });
      progress.event(`round ${round} eval ${strategy}: ${(100 * accuracy).toFixed(1)}% (${correct}/${test.length})`);
    }
    append({ type: "round-finished", round });
  }
  append({ type: "run-finished", ts: new Date(now()).toISOString() });
  phaseChanged(config.rounds, "finished");
  const summary = await writeOutputs(dir, ledger.events, services);
  return { _tag: "EvolveDone", summary, runDir: dir.paths.root, alreadyFinished: false };
}

function fmtLoss(losses: readonly number[]): string {
  if (losses.length === 0) return "-";
  return `${losses[0]!.toFixed(3)} → ${losses[losses.length - 1]!.toFixed(3)}`;
}
