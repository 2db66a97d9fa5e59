/**
 * The real `EvolveServices` in one process: generated (or loaded) problems, MCTS over the
 * bootstrap proposer or a TinyPolicy checkpoint (search/strategies.ts `runMcts`), SFT and PPM
 * training (models/train.ts), and the four evaluation strategies. Problems searched side by side
 * share batched forward passes through the folding wrappers in `batching.ts`.
 */
import type { Problem, Step, StepExecutor, StepProposer, StepScorer } from "../../math/contracts.ts";
import { generateProblems } from "../../math/generator.ts";
import { passesChecks, variantChecks } from "../../math/reference.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { PythonExecutor } from "../../math/pythonExecutor.ts";
import { initBackend } from "../../models/backend.ts";
import { BootstrapPolicy } from "../../models/bootstrapPolicy.ts";
import { loadPolicy, loadScorer, saveCheckpoint } from "../../models/checkpoint.ts";
import { OpenAIPolicy } from "../../models/openaiPolicy.ts";
import { PRESETS, TinyPolicy } from "../../models/policy.ts";
import { ThreadedPolicy } from "../../models/parallelPropose.ts";
import { TinyScorer } from "../../models/ppm.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import { type TrainOptions, trainPolicy, trainScorer } from "../../models/train.ts";
import { trainStateFile, trainStatePath } from "./trainStateFile.ts";
import { answersEqual } from "../../math/grade.ts";
import { loadDataset } from "../../math/datasets.ts";
import { bestOfN, greedy, requestSeed, runMcts } from "../../search/strategies.ts";
import type {
  EvalOutcome,
  EvalRequest,
  EvolveServices,
  ModelRef,
  ModelRefs,
  ProblemEvaluation,
  SearchOutcome,
  SearchRequest,
  ServiceContext,
  TrainOutcome,
  TrainRequest,
} from "../../actors/coordinator.ts";
import { deriveSeed, refVersion } from "../../actors/coordinator.ts";
import { balancedCounts, DEFAULT_TRAIN_STATE_SECONDS, type EvolveConfig, roundLevelCounts } from "./config.ts";
import type { Bus } from "../../protocols/bus.ts";
import { InProcessBus } from "../../protocols/inProcessBus.ts";
import {
  ChaosBus,
  type ChaosControl,
  chaosControlHandler,
  type ChaosSpec,
  CRASH_ACTORS,
  crashRate,
  formatChaosSpec,
  NO_CHAOS,
  parseChaosSpec,
} from "../../protocols/chaosBus.ts";
import { createCrashInjector, type CrashInjector } from "../../actors/crashInjector.ts";
import { Result } from "effect";
import { BatchingProposer, BatchingScorer, mapConcurrent, MemoProposer } from "./batching.ts";
import { outcomeOf, searchWithActors } from "./actorSearch.ts";
import { searchInLanes } from "./searchLanes.ts";
import type { PhaseProgress } from "./progress.ts";
import type { Subscription } from "../../protocols/bus.ts";
import { QueueGroups, runSubjects } from "../../protocols/subjects.ts";
import { serve } from "../../protocols/codec.ts";
import { ChaosReply, ChaosRequest, SolveReply, SolveRequest } from "../../protocols/messages.ts";
import { type LoadedSolveModels, RunSolver } from "./solver.ts";
import { CommandFailed } from "../cli.ts";
import { KILL_WORKER_NEEDS, type NatsLink, type NatsOptions, startNatsLink } from "./natsLink.ts";
import { checkKnob, ControlState } from "../../actors/controlState.ts";
import { codecLogTo } from "../../actors/log.ts";

/** Options of the local services. */
export interface LocalServicesOptions {
  /** TF.js backend to request (default: the best available). */
  readonly backend?: string;
  /**
   * `actors`: training searches run through the actor system (Searcher, Expander and Scorer over
   * a Bus; in-process unless `bus` is given). `direct`: `runMcts` in this process. Default actors.
   */
  readonly searchVia?: "actors" | "direct";
  /** Bus for the actor path (default: a new InProcessBus per search). */
  readonly bus?: () => Bus;
  /** Run the actor path over NATS (with worker processes) instead of an in-process bus. */
  readonly nats?: NatsOptions;
  /**
   * Where a warning goes (a search lane that failed and was searched again here, a bad or failed
   * `.control.solve` request); default stderr.
   */
  readonly warn?: (message: string) => void;
}

/** How often a search reports its fault counters to the coordinator (which records them). */
const FAULT_REPORT_MS = 5_000;

function interleaveByLevel(groups: Problem[][]): Problem[] {
  const out: Problem[] = [];
  const longest = Math.max(0, ...groups.map((g) => g.length));
  for (let i = 0; i < longest; i++) for (const g of groups) if (i < g.length) out.push(g[i]!);
  return out;
}

/** `count` problems of each level, interleaved by level; ids are made unique by `prefix`. */
function generated(counts: readonly (readonly [number, number])[], seed: number, split: "train" | "test", prefix: string): Problem[] {
  const groups = counts.map(([level, count]) =>
    count === 0 ? [] : generateProblems({ count, seed: deriveSeed(seed, split, level), level, split })
      .map((p) => ({ ...p, id: `${prefix}-${p.id}` }))
  );
  return interleaveByLevel(groups);
}

/** The problem with its hidden variant checks (`variantChecks`), when it has a reference program. */
export function withChecks(p: Problem): Problem {
  if (p.solution === undefined || p.solution.length === 0 || p.checks !== undefined) return p;
  const checks = variantChecks(p.solution, p.problem);
  return checks.length > 0 ? { ...p, checks } : p;
}

/**
 * Training options from a run's SFT or PPM settings, with one progress phase over the optimiser
 * steps; `end()` closes the phase once training returns.
 */
function trainingRun(
  ctx: ServiceContext,
  label: string,
  settings: { readonly batchSize: number; readonly lr: number; readonly maxSeconds?: number; readonly maxSteps?: number },
  run: { readonly epochs: number; readonly seed: number; readonly workers: number | undefined; readonly statePath: string; readonly stateSeconds: number },
): { readonly options: TrainOptions; end(): void; removeState(): void } {
  let bar: PhaseProgress | undefined;
  const state = trainStateFile(run.statePath, run.stateSeconds, label, (line) => ctx.progress.event(line));
  return {
    options: {
      epochs: run.epochs,
      batchSize: settings.batchSize,
      lr: settings.lr,
      seed: run.seed,
      ...(run.workers !== undefined ? { workers: run.workers } : {}),
      ...(settings.maxSeconds !== undefined ? { maxSeconds: settings.maxSeconds } : {}),
      ...(settings.maxSteps !== undefined ? { maxSteps: settings.maxSteps } : {}),
      checkpoints: state,
      // The phase starts before the first step, so its rate and ETA count that step's time too;
      // a resumed run's bar counts the steps left.
      onStart: (steps, done) => (bar = ctx.progress.phase(label, steps - done, "steps")),
      onProgress: (p) => bar?.tick(1, `epoch ${p.epoch + 1} loss ${p.loss.toFixed(3)} ${Math.round(p.tokPerS)} tok/s`),
    },
    // A time limit may end training before the steps announced at the start.
    end: () => bar?.done(),
    removeState: () => state.remove(),
  };
}

/** At most `max` pairs, the widest Q margins first (ties keep the recorded order). */
export function selectPairs<T extends { readonly margin: number }>(pairs: readonly T[], max: number): T[] {
  if (pairs.length <= max) return pairs.slice();
  return pairs.map((p, i) => ({ p, i })).sort((a, b) => b.p.margin - a.p.margin || a.i - b.i).slice(0, max).map((x) => x.p);
}

/** The TinyPolicy behind a proposer `policyOf` loaded from a checkpoint. */
function tinyOf(p: StepProposer): TinyPolicy {
  if (p instanceof ThreadedPolicy) return p.policy;
  if (p instanceof TinyPolicy) return p;
  throw new TypeError(`Expected a tiny policy, got ${p.name}`);
}

/** Builds the in-process services for a run's config. */
export function createLocalServices(options: LocalServicesOptions = {}): EvolveServices & {
  start(config: EvolveConfig): Promise<void>;
  /** Loads the newest models of a run for `solve`. */
  models(ref: ModelRef, scorer?: ModelRef): Promise<{ proposer: StepProposer; scorer?: StepScorer }>;
  executor(config: EvolveConfig): StepExecutor;
} {
  const datasets = new Map<string, Problem[]>();
  const loaded = new Map<string, TinyPolicy | ThreadedPolicy | TinyScorer>();
  let executor: StepExecutor | undefined;
  let backendReady: Promise<string> | undefined;
  let bootstrap: BootstrapPolicy | undefined;
  let remote: OpenAIPolicy | undefined;
  let runConfig: EvolveConfig | undefined;
  let link: NatsLink | undefined;
  // The chaos spec in force: from --chaos, replaced at run time by `.control.chaos`; undefined
  // while no chaos was asked for. It reaches the running search's bus and crash injector and the
  // worker killer.
  let chaosSpec: ChaosSpec | undefined;
  let searchChaos: { bus: ChaosBus; crash: CrashInjector } | undefined;
  let chaosSub: Subscription | undefined;
  // Over NATS, `.control.solve` is answered for the whole run with its newest models.
  let solver: RunSolver | undefined;
  let solveSub: Subscription | undefined;
  /** In one process, the knobs a NATS process of this run was set to (`.control.set`), set again. */
  let restoredControl: ControlState | undefined;
  /**
   * Deadline of one search request before it is sent again: `search.requestTimeoutMs` when set;
   * with a chaos spec in force, the longest injected round trip (request and reply delays) plus
   * 300 ms, so dropped requests and those held by killed workers are retried soon; else 30 s.
   */
  const requestTimeoutMs = () => {
    const set = runConfig?.search.requestTimeoutMs;
    if (set !== undefined) return set;
    if (chaosSpec === undefined) return 30_000;
    return 300 + 2 * Math.max(0, ...chaosSpec.rules.map((r) => r.delay?.maxMs ?? 0));
  };
  /** `ctl status` shows the spec in force. */
  const showChaos = () => {
    const text = chaosSpec === undefined ? "" : formatChaosSpec(chaosSpec);
    if (link) link.control.chaos = text === "" ? undefined : text;
  };
  const killSeed = (spec: ChaosSpec) => deriveSeed(runConfig?.seed ?? 0, "kill-worker", spec.seed);
  const runChaos: ChaosControl = {
    refuse(spec) {
      if (spec.killWorkerEveryMs === undefined || (link !== undefined && (options.nats?.workers ?? 0) > 0)) return undefined;
      return `Cannot apply kill-worker: ${KILL_WORKER_NEEDS}`;
    },
    setSpec(spec) {
      chaosSpec = spec;
      showChaos();
      if (searchChaos) {
        searchChaos.bus.setSpec(spec);
        for (const a of CRASH_ACTORS) searchChaos.crash.setRate(a, crashRate(spec, a));
      }
      link?.setKillEvery(spec.killWorkerEveryMs, killSeed(spec));
    },
  };

  const backend = () => (backendReady ??= initBackend(options.backend));

  /** `ctx` whose progress bars also give `ctl status` their counts (training steps, test problems). */
  const reported = (ctx: ServiceContext): ServiceContext => {
    const control = link?.control;
    if (control === undefined) return ctx;
    return {
      ...ctx,
      progress: {
        event: (line) => ctx.progress.event(line),
        phase: (label, total, unit) => {
          const bar = ctx.progress.phase(label, total, unit);
          let done = 0;
          control.setProgress(0, total);
          return {
            tick: (n = 1, note) => {
              done += n;
              control.setProgress(done, total);
              bar.tick(n, note);
            },
            done: (note) => bar.done(note),
          };
        },
      },
    };
  };

  const dataset = async (file: string): Promise<Problem[]> => {
    let d = datasets.get(file);
    if (!d) {
      d = (await loadDataset(file)).problems;
      datasets.set(file, d);
    }
    return d;
  };

  let bonMemo: { key: string; proposer: MemoProposer } | undefined;
  const getExecutor = (config: EvolveConfig): StepExecutor =>
    (executor ??= config.executor === "python" ? new PythonExecutor() : new SafeExecutor());

  const policyOf = async (ref: ModelRef, config?: EvolveConfig): Promise<StepProposer> => {
    if (ref.kind === "bootstrap") {
      if (config?.model.policy === "openai" && config.model.policyUrl) {
        return (remote ??= new OpenAIPolicy({ baseUrl: config.model.policyUrl, model: config.model.modelName ?? "default" }));
      }
      return (bootstrap ??= new BootstrapPolicy());
    }
    if (ref.kind === "remote") {
      if (remote?.version !== ref.version) remote = new OpenAIPolicy({ baseUrl: ref.url, model: ref.model, version: ref.version });
      return remote;
    }
    await backend();
    const hit = loaded.get(ref.dir);
    if ((hit instanceof TinyPolicy || hit instanceof ThreadedPolicy) && hit.version === ref.version) return hit;
    const p = await loadPolicy(ref.dir);
    p.version = ref.version;
    // Worker processes do the generating over NATS; in one process, threads share it.
    const threads = options.nats ? 1 : (config ?? runConfig)?.generateThreads ?? 1;
    const model = threads > 1 ? await ThreadedPolicy.start(p, { threads }) : p;
    loaded.set(ref.dir, model);
    return model;
  };

  const scorerOf = async (ref: ModelRef | undefined): Promise<StepScorer | undefined> => {
    if (!ref || ref.kind !== "checkpoint") return undefined;
    await backend();
    const hit = loaded.get(ref.dir);
    if (hit instanceof TinyScorer && hit.version === ref.version) return hit;
    const s = await loadScorer(ref.dir);
    s.version = ref.version;
    loaded.set(ref.dir, s);
    return s;
  };

  /**
   * Models for `.control.solve`: checkpoints are loaded for it alone, since searches and training
   * free the shared ones whenever they start.
   */
  const loadForSolve = async (refs: ModelRefs): Promise<LoadedSolveModels> => {
    const own: (TinyPolicy | TinyScorer)[] = [];
    let proposer: StepProposer;
    if (refs.policy.kind === "checkpoint") {
      await backend();
      const p = await loadPolicy(refs.policy.dir);
      p.version = refs.policy.version;
      own.push(p);
      proposer = p;
    } else {
      proposer = await policyOf(refs.policy);
    }
    let scorer: TinyScorer | undefined;
    if (refs.scorer?.kind === "checkpoint") {
      scorer = await loadScorer(refs.scorer.dir);
      scorer.version = refs.scorer.version;
      own.push(scorer);
    }
    return { proposer, ...(scorer ? { scorer } : {}), dispose: () => own.forEach((m) => m.dispose()) };
  };

  /** Frees models of older rounds (keeps the ones named in `keep`). */
  const release = (keep: readonly string[]) => {
    for (const [dir, m] of loaded) {
      if (!keep.includes(dir)) {
        m.dispose();
        loaded.delete(dir);
      }
    }
  };

  /** Searches through the actor system: one Searcher, Expander and Scorer on a bus for this batch. */
  const actorSearch = async (req: SearchRequest, onResult: (r: SearchOutcome) => Promise<void>, ctx: ServiceContext) => {
    const policy = await policyOf(req.policy);
    const scorer = await scorerOf(req.scorer);
    if (link) {
      // Workers in other processes hot-swap to this search's weights before it starts.
      if (req.policy.kind === "checkpoint") await link.publishModel("policy", tinyOf(policy), req.policy.version);
      if (req.scorer?.kind === "checkpoint" && scorer) await link.publishModel("ppm", scorer as TinyScorer, req.scorer.version);
      await link.waitForPolicy(policy.version);
    }
    const inner = link?.bus ?? options.bus?.() ?? new InProcessBus();
    // Every search runs on a ChaosBus (injecting nothing without a spec), so `.control.chaos`
    // can turn faults on, change or stop them while it runs.
    const spec = chaosSpec;
    const bus = new ChaosBus(inner, spec ?? NO_CHAOS, { seed: req.seed });
    const crash = createCrashInjector({
      seed: req.seed,
      rates: Object.fromEntries(CRASH_ACTORS.map((a) => [a, spec ? crashRate(spec, a) : 0])),
    });
    searchChaos = { bus, crash };
    const run = link?.run ?? `evolve-r${req.round}-${req.phase}`;
    // Over NATS the run name is shared by both phases, and workers cache replies by request id:
    // the retry phase's ids carry its pass name (its trees stay those of an in-process run).
    const pass = link && req.phase === "retry" ? { pass: req.phase } : {};
    const here = (r: SearchRequest) =>
      searchWithActors(r, {
        bus,
        run,
        ...pass,
        policy,
        scorer,
        executor: executor ??= new SafeExecutor(),
        crash,
        // Asked at each send, so a spec set by `.control.chaos` shortens it for this search too.
        requestTimeoutMs,
        // In one process `.control.chaos` is answered here; over NATS the link answers it, and
        // `.control.solve`, for the whole run.
        ...(link
          ? { control: link.control, serveSolve: false, log: link.rejections }
          : { chaos: runChaos, ...(restoredControl ? { control: restoredControl } : {}) }),
        retriesSoFar: (get) => (liveRetries = get),
      }, onResult);
    // A bootstrap round in one process, free of faults, searches in lanes: one per generation thread.
    const lanes = !link && options.bus === undefined && spec === undefined && !restoredControl && policy instanceof BootstrapPolicy
      ? runConfig?.generateThreads ?? 1
      : 1;
    const linkBefore = link?.bus.connectionStats();
    let liveRetries = () => 0;
    /** This search's fault counters so far (undefined while there are none to record). */
    const faultsNow = (retries: number, laneFailures: number): Record<string, number> | undefined => {
      let faults: Record<string, number> | undefined;
      if (chaosSpec !== undefined) {
        // What was injected, and what the system did about it: retried requests.
        const crashes = Object.values(crash.counts()).reduce((a, b) => a + b, 0);
        faults = { ...bus.stats(), crashes, retries };
      } else if (retries > 0) faults = { retries };
      if (laneFailures > 0) faults = { ...faults, laneFailures };
      if (link) {
        // Faults of the transport itself (a NATS server that went away and came back), and
        // worker processes killed by chaos and replaced.
        const reconnects = link.bus.connectionStats().reconnects - linkBefore!.reconnects;
        if (reconnects > 0) faults = { ...faults, reconnects };
        const k = link.killCounts();
        for (const [key, n] of Object.entries(k)) if (n > 0) faults = { ...faults, [key]: n };
      }
      return faults;
    };
    // Reported as the search goes, so a crash of this process keeps what was counted before it.
    const reporter = ctx.faults === undefined ? undefined : setInterval(() => {
      const f = faultsNow(liveRetries(), 0);
      if (f !== undefined) ctx.faults!(f);
    }, FAULT_REPORT_MS);
    let faults: Record<string, number> | undefined;
    link?.searchStarted(() => bus.inFlight() > 0);
    try {
      const done = lanes > 1
        ? await searchInLanes(req, lanes, { run, requestTimeoutMs: requestTimeoutMs() }, here, onResult)
        : { ...(await here(req)), failures: [] };
      for (const why of done.failures) {
        (options.warn ?? console.error)(
          `round ${req.round} search (${req.phase}): a search lane failed (${why}); its problems were searched on the main thread`,
        );
      }
      faults = faultsNow(done.retries, done.failures.length);
    } finally {
      clearInterval(reporter);
      link?.searchEnded();
      searchChaos = undefined;
      if (inner === link?.bus) {
        // The shared NATS connection stays open for the next search; delayed messages go out first.
        if (chaosSpec !== undefined) await bus.flush().catch(() => {});
      } else {
        await bus.close();
      }
    }
    return faults ? { faults } : undefined;
  };

  const services = {
    async start(config: EvolveConfig): Promise<void> {
      runConfig = config;
      if (config.chaos !== undefined) {
        const parsed = parseChaosSpec(config.chaos);
        if (Result.isFailure(parsed)) throw new CommandFailed(parsed.failure.message);
        chaosSpec = parsed.success;
        // Without worker processes there is nothing to kill: refuse rather than ignore it.
        if (chaosSpec.killWorkerEveryMs !== undefined && (options.nats?.workers ?? 0) === 0) {
          throw new CommandFailed(`Cannot apply --chaos kill-worker: ${KILL_WORKER_NEEDS}`);
        }
      }
      const exec = getExecutor(config);
      // Without python3 every step would fail as "not running" and the run would learn nothing.
      const why = exec instanceof PythonExecutor ? await exec.unavailable() : undefined;
      if (why !== undefined) throw new CommandFailed(`Cannot use --executor python: ${why}`);
      if (config.model.policy === "tiny") await backend();
      if (options.nats && !link) {
        link = await startNatsLink({ ...options.nats, ...(options.warn ? { warn: options.warn } : {}) });
        chaosSub = serve(link.bus, runSubjects(link.run).control("chaos"), ChaosRequest, chaosControlHandler(runChaos), {
          queue: QueueGroups.control,
          replySchema: ChaosReply,
          log: codecLogTo(link.rejections),
        });
        solver = new RunSolver(loadForSolve, () => getExecutor(config), () => runConfig);
        const s = solver;
        solveSub = serve(link.bus, runSubjects(link.run).control("solve"), SolveRequest, (req) => s.solve(req), {
          queue: QueueGroups.control,
          replySchema: SolveReply,
          // A bad or failed solve request gets an error reply, and a line here.
          log: (e) => (options.warn ?? console.error)(`solve request ${e.id ?? "(no id)"}: ${e.msg}: ${e.error ?? ""}`),
        });
        await link.bus.flush();
        if (chaosSpec) link.setKillEvery(chaosSpec.killWorkerEveryMs, killSeed(chaosSpec));
        showChaos();
      }
    },

    phase(round: number, phase: string, models: ModelRefs) {
      // `ctl status` names the models of the phase under way (heartbeats update them in a search).
      link?.control.setModel("policy", refVersion(models.policy));
      if (models.scorer !== undefined) link?.control.setModel("ppm", refVersion(models.scorer));
      link?.control.setPhase(round, phase, { done: 0, total: 0 });
      solver?.use(models);
    },
    knobs(restored: Readonly<Record<string, number>>, record: (key: string, value: number) => void) {
      const control = link?.control ?? (Object.keys(restored).length > 0 ? (restoredControl = new ControlState("evolve")) : undefined);
      if (control === undefined) return; // one process, nothing to restore: nobody can set a knob
      for (const [key, value] of Object.entries(restored)) {
        const knob = checkKnob(key, value);
        if ("_tag" in knob) (options.warn ?? console.error)(`ledger knob-set ${key}=${value} left out: ${knob.message}`);
        else if (control.knobs[knob.key] === undefined) control.setKnob(knob.key, knob.value);
      }
      // Record each change from here on (and one made before this was called).
      let recorded: Record<string, number> = { ...restored };
      const recordChanges = () => {
        for (const [key, value] of Object.entries(control.knobs) as [string, number][]) if (recorded[key] !== value) record(key, value);
        recorded = { ...control.knobs };
      };
      recordChanges();
      control.onChange(recordChanges);
    },
    pausedMs: () => link?.control.pausedMs() ?? 0,

    async trainProblems(config: EvolveConfig, round: number): Promise<Problem[]> {
      const first = config.train.firstRoundProblems ?? config.train.problemsPerRound;
      const n = round === 1 ? first : config.train.problemsPerRound;
      if (config.train.dataset) {
        // Round K takes the file's problems after those of rounds 1..K-1, from the top again once
        // all are used.
        const all = await dataset(config.train.dataset);
        if (all.length === 0) return [];
        const start = round === 1 ? 0 : first + (round - 2) * config.train.problemsPerRound;
        return Array.from({ length: Math.min(n, all.length) }, (_, i) => all[(start + i) % all.length]!);
      }
      return generated(roundLevelCounts(config, round, n), deriveSeed(config.seed, "train-round", round), "train", `r${round}`);
    },

    async testProblems(config: EvolveConfig): Promise<Problem[]> {
      if (config.test.dataset) return (await dataset(config.test.dataset)).slice(0, config.test.problems);
      return generated(balancedCounts(config.test.problems, config.test.levels), deriveSeed(config.seed, "test"), "test", "t");
    },

    async search(request: SearchRequest, onResult: (r: SearchOutcome) => Promise<void>, ctx: ServiceContext) {
      const keep = [request.policy, request.scorer].flatMap((r) => (r && r.kind === "checkpoint" ? [r.dir] : []));
      release(keep);
      // With `train.grade: "variants"`, problems with a reference program carry hidden variant answers.
      const req = runConfig?.train.grade === "variants" ? { ...request, problems: request.problems.map(withChecks) } : request;
      if ((options.searchVia ?? "actors") === "actors") return await actorSearch(req, onResult, ctx);
      const policy = new BatchingProposer(await policyOf(req.policy));
      const inner = await scorerOf(req.scorer);
      const scorer = inner ? new BatchingScorer(inner) : undefined;
      const exec = executor ??= new SafeExecutor();
      let chain = Promise.resolve();
      await mapConcurrent(req.problems, req.concurrency, async (p) => {
        const t0 = performance.now();
        const result = await runMcts(
          { id: p.id, problem: p.problem, answer: p.answer },
          {
            proposer: policy,
            executor: exec,
            ...(scorer ? { scorer } : {}),
            answersEqual,
            ...(p.checks ? { verify: (steps) => passesChecks(steps, p.checks!) } : {}),
          },
          {
            rollouts: req.knobs.rollouts,
            k: req.knobs.k,
            c: req.knobs.c,
            maxDepth: req.knobs.maxDepth,
            ppmSeed: scorer !== undefined,
          },
          requestSeed(req.seed, p.id),
          { temperature: req.knobs.temperature, topP: req.knobs.topP, usePpm: scorer !== undefined, batch: 16 },
        );
        const outcome = outcomeOf(req, p, result.tree, {
          tokens: result.tokens,
          wallMs: Math.round(performance.now() - t0),
          versions: { policy: policy.version, ...(scorer ? { scorer: scorer.version } : {}) },
        });
        // Results are handed over one at a time, in completion order.
        chain = chain.then(() => onResult(outcome));
        await chain;
      });
    },

    async train(req: TrainRequest, given: ServiceContext): Promise<TrainOutcome> {
      const ctx = reported(given);
      await backend();
      release([]);
      const c = req.config;
      let policy: TinyPolicy;
      if (req.init && req.init.kind === "checkpoint") policy = await loadPolicy(req.init.dir);
      else {
        const texts: string[] = [];
        // The vocabulary comes from training texts alone: the test split is not read before it is
        // evaluated (a word only the test split uses is read as <unk> there).
        for (let r = 1; r <= c.rounds; r++) for (const p of await services.trainProblems(c, r)) texts.push(p.problem);
        const render = (s: Step) => `# ${s.text}\n${s.code}`;
        for (const e of req.sft) for (const s of e.steps) texts.push(render(s));
        for (const e of req.pairs) texts.push(render(e.chosen), render(e.rejected));
        const sizes = { ...PRESETS[c.model.size], positions: c.model.positions ?? "learned" } as const;
        policy = TinyPolicy.create(sizes, Tokenizer.build(texts), req.seed);
      }
      // Each training run saves its state next to its checkpoint as it trains; a resumed round
      // continues from there. The states go once both checkpoints are written.
      const stateSeconds = c.trainStateSeconds ?? DEFAULT_TRAIN_STATE_SECONDS;
      const sftRun = trainingRun(ctx, `round ${req.round} SFT`, c.sft, {
        epochs: req.round === 1 ? c.sft.firstRoundEpochs ?? c.sft.epochs : c.sft.epochs,
        seed: req.seed,
        workers: c.trainWorkers,
        statePath: trainStatePath(req.policyDir),
        stateSeconds,
      });
      const pres = await trainPolicy(policy, req.sft, sftRun.options);
      sftRun.end();
      policy.version = `policy-r${req.round}`;
      await saveCheckpoint(req.policyDir, policy, { round: req.round, data: { sft: req.sft.length } });
      const ppm = TinyScorer.fromPolicy(policy, "ppm", req.seed);
      const pairs = selectPairs(req.pairs, c.ppm.maxPairs);
      const ppmRun = trainingRun(ctx, `round ${req.round} PPM`, c.ppm, {
        epochs: c.ppm.epochs,
        seed: req.seed,
        workers: c.trainWorkers,
        statePath: trainStatePath(req.ppmDir),
        stateSeconds,
      });
      const sres = pairs.length === 0 ? { losses: [], tokens: 0, steps: 0 } : await trainScorer(ppm, pairs, ppmRun.options);
      ppmRun.end();
      ppm.version = `ppm-r${req.round}`;
      await saveCheckpoint(req.ppmDir, ppm, { round: req.round, data: { pairs: req.pairs.length } });
      sftRun.removeState();
      ppmRun.removeState();
      policy.dispose();
      ppm.dispose();
      return {
        losses: { policy: pres.losses, ppm: sres.losses },
        steps: { policy: pres.steps, ppm: sres.steps },
        versions: { policy: `policy-r${req.round}`, scorer: `ppm-r${req.round}` },
        tokens: pres.tokens + sres.tokens,
      };
    },

    async evaluate(req: EvalRequest, given: ServiceContext, onResult?: (r: ProblemEvaluation) => Promise<void>): Promise<EvalOutcome> {
      const ctx = reported(given);
      const batching = new BatchingProposer(await policyOf(req.policy));
      // Best-of-N by vote and by the PPM sample the same N solutions (same seeds): the second one
      // to run reuses the first one's samples (a paired comparison, and half the generation).
      let policy: StepProposer = batching;
      if (req.strategy === "bon-vote" || req.strategy === "bon-ppm") {
        const key = `${req.round}|${batching.version}|${req.samples}|${req.temperature}|${req.seed}`;
        if (bonMemo?.key !== key) bonMemo = { key, proposer: new MemoProposer(batching) };
        policy = bonMemo.proposer;
      }
      const inner = await scorerOf(req.scorer);
      const scorer = inner ? new BatchingScorer(inner) : undefined;
      const exec = executor ??= new SafeExecutor();
      const answers = new Map<string, string | undefined>();
      let samples = 0;
      let tokens = 0;
      let chain = Promise.resolve();
      const bar = ctx.progress.phase(`round ${req.round} eval ${req.strategy}`, req.problems.length, "problems");
      await mapConcurrent(req.problems, 16, async (p) => {
        const problem = { id: p.id, problem: p.problem };
        const seed = requestSeed(req.seed, p.id);
        const deps = { proposer: policy, executor: exec, ...(scorer ? { scorer } : {}), answersEqual };
        const maxDepth = 8;
        let r: { answer?: string; samples: number; tokens: number };
        switch (req.strategy) {
          case "greedy":
            r = await greedy(problem, deps, { maxDepth, seed });
            break;
          case "bon-vote":
          case "bon-ppm":
            r = await bestOfN(problem, req.strategy === "bon-vote" ? { proposer: policy, executor: exec } : deps, {
              n: req.samples,
              maxSamples: req.samples,
              choose: req.strategy === "bon-vote" ? "vote" : "scorer",
              temperature: req.temperature,
              maxDepth,
              seed,
              // One solution at a time, so the budget is exceeded by at most one solution, as
              // MCTS (batch 1) exceeds it by at most one rollout (16 problems run side by side).
              wave: 1,
            });
            break;
          case "mcts":
            r = await runMcts(problem, deps, { rollouts: req.samples, k: req.k, maxDepth, ppmSeed: scorer !== undefined }, seed, {
              temperature: req.temperature,
              maxSamples: req.samples,
              choose: "q",
              usePpm: scorer !== undefined,
              batch: 1,
            });
            break;
        }
        answers.set(p.id, r.answer);
        samples += r.samples;
        tokens += r.tokens;
        // Results are handed over one at a time, in completion order.
        const result = { problemId: p.id, ...(r.answer === undefined ? {} : { answer: r.answer }), samples: r.samples, tokens: r.tokens };
        chain = chain.then(() => onResult?.(result));
        await chain;
        bar.tick(1);
      });
      bar.done();
      return {
        answers,
        samples: req.problems.length === 0 ? 0 : samples / req.problems.length,
        tokens,
        versions: { policy: batching.version, ...(scorer ? { scorer: scorer.version } : {}) },
      };
    },

    answersEqual,

    async close() {
      try {
        chaosSub?.unsubscribe();
        solveSub?.unsubscribe();
        await solver?.close();
        await link?.close();
      } finally {
        chaosSub = undefined;
        solveSub = undefined;
        solver = undefined;
        link = undefined;
        bonMemo = undefined;
        release([]);
        await executor?.close?.();
      }
    },

    async models(ref: ModelRef, s?: ModelRef) {
      const proposer = await policyOf(ref);
      const scorer = await scorerOf(s);
      return scorer ? { proposer, scorer } : { proposer };
    },

    executor: getExecutor,
  };
  return services;
}
