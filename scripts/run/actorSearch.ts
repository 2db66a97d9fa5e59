/**
 * One training search through the actor system: a Searcher, an Expander and a Scorer on one bus,
 * over a list of problems, each finished tree turned into the coordinator's per-problem record.
 * The evolve services run it on this thread (scripts/run/localServices.ts) and, for bootstrap
 * rounds searched in lanes, in worker threads (scripts/run/searchLanes.ts).
 */
import type { Problem, StepExecutor, StepProposer, StepScorer } from "../../math/contracts.ts";
import { answersEqual } from "../../math/grade.ts";
import { matchesReference } from "../../math/reference.ts";
import type { SearchOutcome, SearchRequest } from "../../actors/coordinator.ts";
import type { ControlState } from "../../actors/controlState.ts";
import type { CrashInjector } from "../../actors/crashInjector.ts";
import { type Logger, silentLogger } from "../../actors/log.ts";
import { SearchFailed } from "../../actors/searchService.ts";
import type { SupervisorFailed } from "../../actors/supervisorMachine.ts";
import { startSystem } from "../../actors/system.ts";
import type { Bus } from "../../protocols/bus.ts";
import type { ChaosControl } from "../../protocols/chaosBus.ts";
import { InMemoryBlobStore } from "../../protocols/inProcessBus.ts";
import { stats } from "../../search/SearchTree.ts";
import { chooseAnswer, preferencePairs, sftPicks, trajectories } from "../../search/extract.ts";
import type { SearchTree } from "../../search/types.ts";
import type { PairExample, SftExample } from "./ledger.ts";

/** What one actor search runs on. */
export interface ActorSearchOptions {
  readonly bus: Bus;
  /** Run name: the subjects' prefix. */
  readonly run: string;
  /** Pass name carried by request ids (a retry pass over NATS, whose run name both passes share). */
  readonly pass?: string;
  readonly policy: StepProposer;
  readonly scorer: StepScorer | undefined;
  readonly executor: StepExecutor;
  readonly crash?: CrashInjector;
  /** Deadline of one request before it is sent again, asked at each send. */
  readonly requestTimeoutMs: () => number;
  /** What `.control.chaos` changes; absent: not answered by this system. */
  readonly chaos?: ChaosControl;
  /** The run's control state, when it outlives this search (absent: the search's own). */
  readonly control?: ControlState;
  /** Answer `.control.solve` with this search's actors (default true; false where the run answers it). */
  readonly serveSolve?: boolean;
  /** Where the actors log (default: nowhere); over NATS, the run's report of bad messages. */
  readonly log?: Logger;
  /** Given, once the actors are up, a getter of the requests retried so far. */
  readonly retriesSoFar?: (get: () => number) => void;
}

/**
 * Searches `req.problems` with the actors on `options.bus`, calling `onResult` with each
 * problem's record as its tree finishes. Resolves with the Searcher's retried requests once every
 * problem is done and the actors are stopped.
 */
export async function searchWithActors(
  req: SearchRequest,
  options: ActorSearchOptions,
  onResult: (r: SearchOutcome) => Promise<void>,
): Promise<{ retries: number }> {
  const system = startSystem({
    bus: options.bus,
    blobs: new InMemoryBlobStore(),
    run: options.run,
    roles: ["expander", "scorer", "searcher"],
    policy: options.policy,
    scorer: options.scorer,
    executor: options.executor,
    log: options.log ?? silentLogger,
    grade: answersEqual,
    heartbeatMs: 0,
    ...(options.crash ? { crash: options.crash } : {}),
    requestTimeoutMs: options.requestTimeoutMs,
    ...(options.chaos ? { chaos: options.chaos } : {}),
    ...(options.control ? { control: options.control } : {}),
    ...(options.serveSolve === undefined ? {} : { serveSolve: options.serveSolve }),
  });
  const byId = new Map(req.problems.map((p) => [p.id, p]));
  options.retriesSoFar?.(() => system.search!.stats().retries);
  let gaveUp: SupervisorFailed | undefined;
  void system.done.then((f) => void (gaveUp = f));
  try {
    await system.search!.run({
      round: req.round,
      ...(options.pass === undefined ? {} : { pass: options.pass }),
      mode: "train",
      problems: req.problems,
      config: { rollouts: req.knobs.rollouts, k: req.knobs.k, c: req.knobs.c, maxDepth: req.knobs.maxDepth, ppmSeed: options.scorer !== undefined },
      usePpm: options.scorer !== undefined,
      seed: req.seed,
      concurrency: req.concurrency,
      temperature: req.knobs.temperature,
      topP: req.knobs.topP,
      ...(req.rolloutScale === undefined ? {} : { rolloutScale: req.rolloutScale }),
    }, async (r) => {
      const p = byId.get(r.problemId);
      if (!p) throw new Error(`Search returned unknown problem ${r.problemId}`);
      await onResult(outcomeOf(req, p, r.tree, {
        tokens: r.tokens,
        wallMs: r.wallMs,
        versions: { policy: r.policyVersion, ...(r.scorerVersion !== undefined ? { scorer: r.scorerVersion } : {}) },
      }));
    });
    return { retries: system.search!.stats().retries };
  } catch (err) {
    // Requests that nobody answered because the Supervisor stopped restarting an actor: say why.
    if (err instanceof SearchFailed && gaveUp !== undefined) throw new SearchFailed(err.problemId, gaveUp.message, { cause: err });
    throw err;
  } finally {
    await system.stop();
  }
}

/** Turns a finished training tree into the coordinator's per-problem record. */
export function outcomeOf(
  req: SearchRequest,
  p: Problem,
  tree: SearchTree,
  extra: { tokens: number; wallMs: number; versions: SearchOutcome["versions"] },
): SearchOutcome {
  const st = stats(tree);
  const all = trajectories(tree);
  const sft: SftExample[] = sftPicks(tree, req.sftPerProblem).map((t) => {
    const matches = matchesReference(t.steps, p.solution, p.problem);
    return {
      problemId: p.id,
      problem: p.problem,
      steps: t.steps,
      answer: t.answer ?? "",
      meanQ: t.meanQ,
      ...(matches === undefined ? {} : { matchesReference: matches }),
    };
  });
  const pairs: PairExample[] = preferencePairs(tree, req.pairs)
    .filter((x) => x.kind === "step" && x.chosen.length === 1 && x.rejected.length === 1)
    .map((x) => ({
      problemId: p.id,
      problem: p.problem,
      steps: x.prefix,
      chosen: x.chosen[0]!,
      rejected: x.rejected[0]!,
      margin: x.chosenQ - x.rejectedQ,
    }));
  const answer = chooseAnswer(tree, "q");
  return {
    problemId: p.id,
    solved: st.solved,
    ...(answer !== undefined ? { answer } : {}),
    rollouts: st.rolloutsDone,
    tokens: extra.tokens,
    wallMs: extra.wallMs,
    trajectories: { total: all.length, correct: all.filter((t) => t.correct).length },
    sft,
    pairs,
    versions: extra.versions,
    tree,
  };
}
