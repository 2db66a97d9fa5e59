/**
 * Solving one problem with a run's models in this process: MCTS with the run's search depth and
 * rollouts and its evaluation's k and temperature, steered by the PPM when the run has one.
 * `rstar solve --run DIR` calls `solveProblem`; `rstar evolve --nats` answers `.control.solve`
 * with a `RunSolver` for as long as the run is up (searching, training or evaluating), with the
 * run's newest models.
 */
import type { StepExecutor, StepProposer, StepScorer } from "../../math/contracts.ts";
import { answersEqual } from "../../math/grade.ts";
import { bestTerminal } from "../../search/extract.ts";
import { runMcts } from "../../search/strategies.ts";
import type { SearchNode, SearchTree } from "../../search/types.ts";
import type { ModelRefs } from "../../actors/coordinator.ts";
import { ProtocolError } from "../../protocols/codec.ts";
import type { SolveReply, SolveRequest } from "../../protocols/messages.ts";
import { solveReply } from "../../actors/system.ts";
import type { EvolveConfig } from "./config.ts";

/** The models a solve runs on. */
export interface SolveModels {
  readonly proposer: StepProposer;
  readonly scorer?: StepScorer;
}

/** A solved problem: its tree, the answer chosen by Q, and the terminal whose path gave it. */
export interface Solved {
  readonly tree: SearchTree;
  readonly answer?: string;
  readonly best?: SearchNode;
}

/** Solves `text` with MCTS (+ PPM when `models.scorer` is given) under the run's settings. */
export async function solveProblem(
  text: string,
  models: SolveModels,
  executor: StepExecutor,
  config: EvolveConfig,
  options: { readonly seed: number; readonly rollouts?: number },
): Promise<Solved> {
  const { proposer, scorer } = models;
  const result = await runMcts(
    { id: "solve", problem: text },
    { proposer, executor, ...(scorer ? { scorer } : {}), answersEqual },
    {
      rollouts: options.rollouts ?? config.search.policy.rollouts,
      k: config.eval.k,
      maxDepth: config.search.policy.maxDepth,
      ppmSeed: scorer !== undefined,
    },
    options.seed,
    { temperature: config.eval.temperature, choose: "q", usePpm: scorer !== undefined },
  );
  const best = bestTerminal(result.tree, result.answer);
  return {
    tree: result.tree,
    ...(result.answer === undefined ? {} : { answer: result.answer }),
    ...(best ? { best } : {}),
  };
}

/** Loaded models the solver owns; `dispose` frees what was loaded for it alone. */
export interface LoadedSolveModels extends SolveModels {
  dispose(): void;
}

/**
 * Answers solve requests for a running run, one at a time, with the newest models it was told of
 * (`use`). Models are loaded at the first request after they change, and the ones they replace
 * are freed then: a solve never runs on models another part of the process may free.
 */
export class RunSolver {
  #refs: ModelRefs | undefined;
  #loaded: { key: string; models: LoadedSolveModels } | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly load: (refs: ModelRefs) => Promise<LoadedSolveModels>,
    private readonly executor: () => StepExecutor,
    private readonly config: () => EvolveConfig | undefined,
  ) {}

  /** The models later requests use. */
  use(refs: ModelRefs): void {
    this.#refs = refs;
  }

  /**
   * Solves the request's problem (seed 0, as `rstar solve --run DIR`), after the requests before
   * it; an Unavailable error before the run has told it its models.
   */
  solve(req: SolveRequest): Promise<SolveReply | ProtocolError> {
    if (this.#refs === undefined || this.config() === undefined) {
      return Promise.resolve(
        new ProtocolError({
          code: "Unavailable",
          message: "Retry the request: the run is still starting",
        }),
      );
    }
    const next = this.#queue.then(() => this.#solve(req));
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Frees the loaded models once the requests under way are answered. */
  async close(): Promise<void> {
    await this.#queue;
    this.#loaded?.models.dispose();
    this.#loaded = undefined;
  }

  async #solve(req: SolveRequest): Promise<SolveReply> {
    const refs = this.#refs!;
    const config = this.config()!;
    const key = JSON.stringify(refs);
    if (this.#loaded?.key !== key) {
      this.#loaded?.models.dispose();
      this.#loaded = undefined;
      this.#loaded = { key, models: await this.load(refs) };
    }
    const models = this.#loaded.models;
    const out = await solveProblem(req.problem, models, this.executor(), config, {
      seed: 0,
      ...(req.rollouts === undefined ? {} : { rollouts: req.rollouts }),
    });
    const versions: Record<string, string> = { policy: models.proposer.version };
    if (models.scorer !== undefined) versions.ppm = models.scorer.version;
    return solveReply(req.id, out.tree, out.answer, versions);
  }
}
