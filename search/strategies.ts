/**
 * Search strategies over the model contracts (StepProposer, StepScorer, StepExecutor), so one
 * harness compares them at equal policy-sample budgets (one sample = one proposed step):
 * greedy, best-of-N (answer by vote, by scorer, by scorer-weighted vote), step-level beam search,
 * and the MCTS driver that loops ask → propose → execute → grade/score → tell over a SearchTree.
 */
import type {
  ExecResult,
  ProposedStep,
  ProposeRequest,
  Step,
  StepExecutor,
  StepProposer,
  StepScorer,
} from "../math/contracts.ts";
import { hashString } from "../math/prng.ts";
import { chooseAnswer, majority } from "./extract.ts";
import { ask, createTree, isDone, tell } from "./SearchTree.ts";
import type { Candidate, SearchConfig, SearchTree } from "./types.ts";

/** The problem a strategy solves; `answer` (training only) grades terminals as +1/−1. */
export interface SearchProblem {
  readonly id: string;
  readonly problem: string;
  readonly answer?: string;
}

/** What a strategy calls: a policy, an executor, optionally a scorer and an answer grader. */
export interface SearchDeps {
  readonly proposer: StepProposer;
  readonly executor: StepExecutor;
  readonly scorer?: StepScorer;
  /** Answer equivalence used for grading (math/grade.ts's `answersEqual`); exact text by default. */
  readonly answersEqual?: (pred: string, gold: string) => boolean;
  /**
   * A further check of a trajectory whose answer equals the reference (training only), e.g. the
   * problem's hidden variant answers; a trajectory that fails it is graded −1.
   */
  readonly verify?: (steps: readonly Step[]) => boolean;
}

/** The outcome of one strategy on one problem. */
export interface StrategyResult {
  readonly answer?: string;
  /** Policy samples used (proposed steps). */
  readonly samples: number;
  /** Tokens the policy generated. */
  readonly tokens: number;
}

/** Outcome of `runMcts`: the final tree too. */
export interface MctsResult extends StrategyResult {
  readonly tree: SearchTree;
}

/** Default answer equivalence until a grader is passed: trimmed text equality. */
export function sameAnswerText(pred: string, gold: string): boolean {
  return pred.trim() === gold.trim();
}

const printCall = /(^|[^A-Za-z0-9_])print\s*\(/;

/**
 * Turns a proposed step and its execution result into a tree candidate: failed code → terminal
 * with the error; code that calls `print` → terminal whose answer is the last printed line;
 * anything else → a non-terminal step. No reward or value yet (the caller grades or scores).
 */
export function toCandidate(proposed: ProposedStep, result: ExecResult): Candidate {
  const step: Step = { text: proposed.text, code: proposed.code };
  if (!result.ok || result.error !== undefined) {
    const error = result.error ?? { kind: "Unsupported" as const, message: "Step failed without an error", line: 1 };
    return { step, stdout: result.stdout, error, terminal: true, logprob: proposed.logprob };
  }
  if (printCall.test(proposed.code)) {
    const lines = result.stdout.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
    const answer = lines[lines.length - 1];
    return answer === undefined
      ? { step, stdout: result.stdout, terminal: true, logprob: proposed.logprob }
      : { step, stdout: result.stdout, terminal: true, answer, logprob: proposed.logprob };
  }
  return { step, stdout: result.stdout, terminal: false, logprob: proposed.logprob };
}

/** A request seed derived from a strategy seed and labels (stable across batching). */
export function requestSeed(seed: number, ...labels: (string | number)[]): number {
  return hashString(`${seed}:${labels.join(":")}`)[0];
}

/** Options of `runMcts` beyond the tree's config. */
export interface MctsOptions {
  /** Expansions requested per propose call (default 16). */
  readonly batch?: number;
  readonly temperature?: number;
  readonly topP?: number;
  /**
   * Sample budget (for equal-budget comparisons): once this many policy samples were drawn, no
   * new rollout starts, and the rollouts already started run to their terminal, as best-of-N
   * finishes the solutions it started. With `batch: 1` the budget is exceeded by at most one
   * rollout.
   */
  readonly maxSamples?: number;
  /** How the final answer is chosen (default `q`). */
  readonly choose?: "q" | "vote" | "ppm";
  /** Ask the scorer for values of new steps (default: when a scorer is given). */
  readonly usePpm?: boolean;
}

/**
 * Runs MCTS on one problem to the end of its budget: ask → one batched propose for all asks →
 * execute each candidate → grade terminals (+1/−1 against `problem.answer`) or, without a
 * reference, score them with the scorer → tell. Deterministic for a given seed and models.
 */
export async function runMcts(
  problem: SearchProblem,
  deps: SearchDeps,
  config: Partial<SearchConfig>,
  seed: number,
  options: MctsOptions = {},
): Promise<MctsResult> {
  const tree = createTree(problem, config, seed);
  const batch = options.batch ?? 16;
  const usePpm = options.usePpm ?? deps.scorer !== undefined;
  let samples = 0;
  let tokens = 0;
  while (!isDone(tree)) {
    const spent = options.maxSamples !== undefined && samples >= options.maxSamples;
    const { asks } = ask(tree, batch, { startNew: !spent });
    if (asks.length === 0) break;
    const requests: ProposeRequest[] = asks.map((a) => ({
      problem: problem.problem,
      steps: a.steps,
      k: tree.config.k,
      temperature: options.temperature ?? 1,
      topP: options.topP ?? 1,
      seed: requestSeed(seed, "mcts", a.trialId),
    }));
    const proposals = await deps.proposer.propose(requests);
    const cands = await Promise.all(asks.map(async (a, i) => {
      const props = proposals[i] ?? [];
      samples += props.length;
      for (const p of props) tokens += p.tokens;
      return await Promise.all(props.map(async (p) => toCandidate(p, await deps.executor.runStep(a.steps, p))));
    }));
    const valued = await valueCandidates(problem, deps, asks.map((a) => a.steps), cands, usePpm);
    for (let i = 0; i < asks.length; i++) tell(tree, asks[i]!.trialId, valued[i]!);
  }
  const answer = chooseAnswer(tree, options.choose ?? "q");
  return answer === undefined ? { tree, samples, tokens } : { tree, answer, samples, tokens };
}

/**
 * Adds rewards and values: a terminal with an answer gets +1/−1 against the reference (training)
 * or its scorer value (test time); with `usePpm`, every executable candidate gets its scorer value.
 */
async function valueCandidates(
  problem: SearchProblem,
  deps: SearchDeps,
  prefixes: readonly Step[][],
  cands: readonly Candidate[][],
  usePpm: boolean,
): Promise<Candidate[][]> {
  const reference = problem.answer !== undefined && problem.answer !== "" ? problem.answer : undefined;
  const eq = deps.answersEqual ?? sameAnswerText;
  const needScore = (c: Candidate) =>
    c.error === undefined && (usePpm || (reference === undefined && c.terminal && c.answer !== undefined));
  const scores = new Map<string, number>();
  if (deps.scorer !== undefined) {
    const items = [];
    const keys: string[] = [];
    for (let i = 0; i < cands.length; i++) {
      for (let j = 0; j < cands[i]!.length; j++) {
        const c = cands[i]![j]!;
        if (!needScore(c)) continue;
        items.push({ problem: problem.problem, steps: prefixes[i]!, candidate: c.step });
        keys.push(`${i}:${j}`);
      }
    }
    if (items.length > 0) {
      const values = await deps.scorer.score(items);
      keys.forEach((k, n) => scores.set(k, values[n] ?? 0));
    }
  }
  return cands.map((list, i) =>
    list.map((c, j) => {
      const value = scores.get(`${i}:${j}`);
      let out: Candidate = value === undefined ? c : { ...c, value };
      if (c.terminal && c.error === undefined && c.answer !== undefined) {
        const correct = reference !== undefined && eq(c.answer, reference) &&
          (deps.verify === undefined || deps.verify([...prefixes[i]!, c.step]));
        const reward = reference !== undefined ? (correct ? 1 : -1) : value ?? 0;
        out = { ...out, reward };
      }
      return out;
    })
  );
}

/** One sampled solution of best-of-N / greedy. */
interface Rollout {
  steps: Step[];
  done: boolean;
  answer?: string;
  /** Scorer value of the final step. */
  score?: number;
}

/** Options of best-of-N. */
export interface BestOfNOptions {
  /** Solutions to sample. */
  readonly n: number;
  /** Answer choice: majority vote, highest scorer value of the final step, or scorer-weighted vote. */
  readonly choose: "vote" | "scorer" | "weighted";
  readonly temperature?: number;
  readonly topP?: number;
  readonly maxDepth?: number;
  /**
   * Sample budget: no new solution starts once this many policy samples were drawn; solutions
   * already started are finished (with `wave: 1` the budget is exceeded by at most one solution).
   */
  readonly maxSamples?: number;
  /** Solutions sampled side by side (default 8). */
  readonly wave?: number;
  readonly seed: number;
}

/** Samples solutions step by step (k = 1 each); a failed step ends its solution unanswered. */
async function sampleSolutions(
  problem: SearchProblem,
  deps: SearchDeps,
  opts: BestOfNOptions,
): Promise<{ rollouts: Rollout[]; samples: number; tokens: number }> {
  const maxDepth = opts.maxDepth ?? 16;
  const wave = Math.max(1, opts.wave ?? 8);
  const out: Rollout[] = [];
  let samples = 0;
  let tokens = 0;
  for (let start = 0; start < opts.n; start += wave) {
    if (opts.maxSamples !== undefined && samples >= opts.maxSamples) break;
    const group: Rollout[] = [];
    for (let i = start; i < Math.min(opts.n, start + wave); i++) group.push({ steps: [], done: false });
    for (let depth = 0; depth < maxDepth; depth++) {
      const live = group.filter((r) => !r.done);
      if (live.length === 0) break;
      const requests = live.map((r) => ({
        problem: problem.problem,
        steps: r.steps,
        k: 1,
        temperature: opts.temperature ?? 1,
        topP: opts.topP ?? 1,
        seed: requestSeed(opts.seed, "bon", start + group.indexOf(r), depth),
      }));
      const proposals = await deps.proposer.propose(requests);
      await Promise.all(live.map(async (r, i) => {
        const p = proposals[i]?.[0];
        if (p === undefined) {
          r.done = true;
          return;
        }
        samples++;
        tokens += p.tokens;
        const c = toCandidate(p, await deps.executor.runStep(r.steps, p));
        if (c.error !== undefined) {
          r.done = true;
          return;
        }
        r.steps = [...r.steps, c.step];
        if (c.terminal) {
          r.done = true;
          if (c.answer !== undefined) r.answer = c.answer;
        }
      }));
    }
    out.push(...group);
  }
  if (deps.scorer !== undefined) {
    const answered = out.filter((r) => r.answer !== undefined && r.steps.length > 0);
    if (answered.length > 0) {
      const values = await deps.scorer.score(answered.map((r) => ({
        problem: problem.problem,
        steps: r.steps.slice(0, -1),
        candidate: r.steps[r.steps.length - 1]!,
      })));
      answered.forEach((r, i) => (r.score = values[i] ?? 0));
    }
  }
  return { rollouts: out, samples, tokens };
}

/** Best-of-N: N sampled solutions, answer by vote, by the scorer, or by scorer-weighted vote. */
export async function bestOfN(problem: SearchProblem, deps: SearchDeps, opts: BestOfNOptions): Promise<StrategyResult> {
  const { rollouts, samples, tokens } = await sampleSolutions(problem, deps, opts);
  const answered = rollouts.filter((r) => r.answer !== undefined);
  let answer: string | undefined;
  if (opts.choose === "vote" || deps.scorer === undefined) {
    answer = majority(answered.map((r) => ({ answer: r.answer!, weight: 1, tie: 0 })));
  } else if (opts.choose === "scorer") {
    let best = -Infinity;
    for (const r of answered) {
      if ((r.score ?? -1) > best) {
        best = r.score ?? -1;
        answer = r.answer;
      }
    }
  } else {
    // Weighted vote: scores in [−1, 1] mapped to weights in [0, 1].
    answer = majority(answered.map((r) => ({ answer: r.answer!, weight: ((r.score ?? 0) + 1) / 2, tie: 0 })));
  }
  return answer === undefined ? { samples, tokens } : { answer, samples, tokens };
}

/** Greedy decoding: one solution at temperature 0. */
export async function greedy(
  problem: SearchProblem,
  deps: SearchDeps,
  opts: { readonly maxDepth?: number; readonly seed?: number } = {},
): Promise<StrategyResult> {
  return await bestOfN(problem, { proposer: deps.proposer, executor: deps.executor }, {
    n: 1,
    choose: "vote",
    temperature: 0,
    seed: opts.seed ?? 0,
    ...(opts.maxDepth !== undefined ? { maxDepth: opts.maxDepth } : {}),
  });
}

/** Options of step-level beam search. */
export interface BeamOptions {
  /** Beams kept after each step. */
  readonly width: number;
  /** Candidates proposed per beam and step. */
  readonly k: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly maxDepth?: number;
  readonly maxSamples?: number;
  readonly seed: number;
}

/**
 * Step-level beam search: each beam proposes k next steps, failed ones are dropped, the rest are
 * ranked by the scorer (by logprob without one); the best `width` continue, answered steps are
 * set aside; the answer is the set-aside solution with the best final-step score.
 */
export async function beamSearch(problem: SearchProblem, deps: SearchDeps, opts: BeamOptions): Promise<StrategyResult> {
  const maxDepth = opts.maxDepth ?? 16;
  let beams: Step[][] = [[]];
  const finished: { answer: string; score: number }[] = [];
  let samples = 0;
  let tokens = 0;
  for (let depth = 0; depth < maxDepth && beams.length > 0; depth++) {
    if (opts.maxSamples !== undefined && samples + beams.length * opts.k > opts.maxSamples) break;
    const proposals = await deps.proposer.propose(beams.map((steps, b) => ({
      problem: problem.problem,
      steps,
      k: opts.k,
      temperature: opts.temperature ?? 1,
      topP: opts.topP ?? 1,
      seed: requestSeed(opts.seed, "beam", depth, b),
    })));
    const pool: { prefix: Step[]; cand: Candidate }[] = [];
    await Promise.all(beams.map(async (prefix, b) => {
      const props = proposals[b] ?? [];
      samples += props.length;
      for (const p of props) tokens += p.tokens;
      const cands = await Promise.all(props.map(async (p) => toCandidate(p, await deps.executor.runStep(prefix, p))));
      const seen = new Set<string>();
      for (const cand of cands) {
        if (cand.error !== undefined || seen.has(cand.step.code)) continue;
        seen.add(cand.step.code);
        pool.push({ prefix, cand });
      }
    }));
    const scores = deps.scorer !== undefined && pool.length > 0
      ? await deps.scorer.score(pool.map((x) => ({ problem: problem.problem, steps: x.prefix, candidate: x.cand.step })))
      : pool.map((x) => x.cand.logprob);
    const ranked = pool.map((x, i) => ({ ...x, score: scores[i] ?? 0 })).sort((a, b) => b.score - a.score);
    const next: Step[][] = [];
    for (const r of ranked) {
      if (r.cand.terminal) {
        if (r.cand.answer !== undefined) finished.push({ answer: r.cand.answer, score: r.score });
      } else if (next.length < opts.width) {
        next.push([...r.prefix, r.cand.step]);
      }
    }
    beams = next;
    if (finished.length >= opts.width) break;
  }
  let answer: string | undefined;
  let best = -Infinity;
  for (const f of finished) {
    if (f.score > best) {
      best = f.score;
      answer = f.answer;
    }
  }
  return answer === undefined ? { samples, tokens } : { answer, samples, tokens };
}

/** A strategy under comparison: a name and a run at a sample budget. */
export interface NamedStrategy {
  readonly name: string;
  run(problem: SearchProblem, deps: SearchDeps, budget: number, seed: number): Promise<StrategyResult>;
}

/** The standard line-up at a sample budget: greedy, best-of-N (3 choices), beam, MCTS (q, vote). */
export function standardStrategies(config: Partial<SearchConfig> = {}): NamedStrategy[] {
  const k = config.k ?? 8;
  const bon = (choose: BestOfNOptions["choose"]): NamedStrategy => ({
    name: `best-of-n/${choose}`,
    run: (p, d, budget, seed) => bestOfN(p, d, { n: budget, maxSamples: budget, choose, seed, wave: 1 }),
  });
  const mcts = (choose: "q" | "vote" | "ppm"): NamedStrategy => ({
    name: `mcts/${choose}`,
    run: (p, d, budget, seed) =>
      runMcts({ id: p.id, problem: p.problem }, d, { rollouts: budget, ...config, k }, seed, {
        maxSamples: budget,
        batch: 1,
        choose,
      }),
  });
  return [
    { name: "greedy", run: (p, d, _budget, seed) => greedy(p, d, { seed }) },
    bon("vote"),
    bon("scorer"),
    bon("weighted"),
    { name: "beam", run: (p, d, budget, seed) => beamSearch(p, d, { width: 2, k: 4, maxSamples: budget, seed }) },
    mcts("q"),
    mcts("vote"),
  ];
}

/** One row of a comparison: a strategy's accuracy and mean samples over the problems. */
export interface ComparisonRow {
  readonly strategy: string;
  readonly accuracy: number;
  readonly meanSamples: number;
  readonly solved: number;
  readonly problems: number;
}

/**
 * Runs each strategy on each problem at the same policy-sample budget and grades the answers
 * against the problems' references. Strategies never see the reference (it is stripped).
 */
export async function compareStrategies(
  problems: readonly SearchProblem[],
  deps: SearchDeps,
  budget: number,
  seed: number,
  strategies: readonly NamedStrategy[] = standardStrategies(),
): Promise<ComparisonRow[]> {
  const eq = deps.answersEqual ?? sameAnswerText;
  const rows: ComparisonRow[] = [];
  for (const s of strategies) {
    let solved = 0;
    let samples = 0;
    for (const [i, p] of problems.entries()) {
      const r = await s.run({ id: p.id, problem: p.problem }, deps, budget, requestSeed(seed, s.name, i));
      samples += r.samples;
      if (r.answer !== undefined && p.answer !== undefined && eq(r.answer, p.answer)) solved++;
    }
    rows.push({
      strategy: s.name,
      accuracy: problems.length > 0 ? solved / problems.length : 0,
      meanSamples: problems.length > 0 ? samples / problems.length : 0,
      solved,
      problems: problems.length,
    });
  }
  return rows;
}
