/**
 * How well each way of choosing an answer picks among N sampled solutions: the run's round-K
 * policy samples N solutions (the run's evaluation temperature, whole distribution) for held-out
 * problems, its PPM scores every step, and each chooser answers from the same samples. The
 * evaluation's `bon-ppm` is `ppm_last`; `ceiling` counts a problem when any sample is right.
 * `deno run -A scripts/bench/models.ts choosers RUN_DIR ROUND [PER_LEVEL] [N]`.
 */
import type { Problem, Step } from "../../math/contracts.ts";
import { answersEqual } from "../../math/grade.ts";
import { runStepSync } from "../../math/interpreter.ts";
import { majority } from "../../search/extract.ts";
import { requestSeed, toCandidate } from "../../search/strategies.ts";
import type { TinyPolicy } from "../../models/policy.ts";
import type { TinyScorer } from "../../models/ppm.ts";

/** What the sampling needs of the models: synchronous batched proposals and scores. */
export type SyncPolicy = Pick<TinyPolicy, "proposeSync">;
export type SyncScorer = Pick<TinyScorer, "scoreSync">;

/** One sampled solution that printed an answer, with what the choosers read. */
export interface ScoredSample {
  readonly answer: string;
  /** The policy's log-probability of each step (untempered). */
  readonly stepLogprobs: readonly number[];
  readonly stepTokens: readonly number[];
  /** The PPM's score of each step after its prefix, in [−1, 1]. */
  readonly ppm: readonly number[];
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** The answer of the highest-valued sample (the first one on ties). */
function argmax(
  samples: readonly ScoredSample[],
  value: (s: ScoredSample) => number,
): string | undefined {
  let best = -Infinity;
  let answer: string | undefined;
  for (const s of samples) {
    const v = value(s);
    if (v > best) {
      best = v;
      answer = s.answer;
    }
  }
  return answer;
}

/** A vote in which each sample counts `weight(s)`. */
function weightedVote(
  samples: readonly ScoredSample[],
  weight: (s: ScoredSample) => number,
): string | undefined {
  return majority(samples.map((s) => ({ answer: s.answer, weight: weight(s), tie: 0 })));
}

/** The choosers, by name: each answers from one problem's answered samples, in sampling order. */
export const CHOOSERS: Readonly<
  Record<string, (samples: readonly ScoredSample[]) => string | undefined>
> = {
  vote: (ss) => weightedVote(ss, () => 1),
  first: (ss) => ss[0]?.answer,
  ppm_last: (ss) => argmax(ss, (s) => s.ppm[s.ppm.length - 1]!),
  ppm_min: (ss) => argmax(ss, (s) => Math.min(...s.ppm)),
  ppm_mean: (ss) => argmax(ss, (s) => sum(s.ppm) / s.ppm.length),
  vote_ppm: (ss) => weightedVote(ss, (s) => (s.ppm[s.ppm.length - 1]! + 1) / 2),
  logprob_per_token: (ss) =>
    argmax(ss, (s) => sum(s.stepLogprobs) / Math.max(1, sum(s.stepTokens))),
  logprob_min_step: (ss) => argmax(ss, (s) => Math.min(...s.stepLogprobs)),
};

/** Accuracy of every chooser and of the ceiling on `problems` (overall and `l1` … `l5`). */
export function chooserAccuracy(
  problems: readonly Problem[],
  samples: readonly (readonly ScoredSample[])[],
): Record<string, { accuracy: number; byLevel: Record<string, number> }> {
  const rights: Record<string, boolean[]> = {};
  problems.forEach((p, i) => {
    const ss = samples[i] ?? [];
    const right = (a: string | undefined) => a !== undefined && answersEqual(a, p.answer);
    for (const [name, choose] of Object.entries(CHOOSERS)) {
      (rights[name] ??= []).push(right(choose(ss)));
    }
    (rights.ceiling ??= []).push(ss.some((s) => right(s.answer)));
  });
  return Object.fromEntries(
    Object.entries(rights).map(([name, r]) => [name, accuracyByLevel(problems, r)]),
  );
}

/** The share of `right` overall and among the problems of each level 1–5 (`l1` … `l5`; 0 where none). */
export function accuracyByLevel(
  problems: readonly Problem[],
  right: readonly boolean[],
): { accuracy: number; byLevel: Record<string, number> } {
  const share = (
    xs: readonly boolean[],
  ) => (xs.length === 0 ? 0 : xs.filter(Boolean).length / xs.length);
  return {
    accuracy: share(right),
    byLevel: Object.fromEntries(
      [1, 2, 3, 4, 5].map((
        l,
      ) => [`l${l}`, share(right.filter((_, i) => problems[i]!.level === l))]),
    ),
  };
}

/**
 * Samples `n` solutions per problem (step by step, k = 1, at most `maxDepth` steps; a failed
 * step ends a solution unanswered), batched across problems, and scores every step of each
 * answered one with `ppm`. Seeded: the same inputs give the same samples.
 */
export function sampleScored(
  policy: SyncPolicy,
  ppm: SyncScorer,
  problems: readonly Problem[],
  opts: {
    readonly n: number;
    readonly temperature: number;
    readonly seed: number;
    readonly maxDepth?: number;
  },
): ScoredSample[][] {
  interface Live {
    steps: Step[];
    logprobs: number[];
    tokens: number[];
    done: boolean;
    answer?: string;
  }
  const sols: Live[][] = problems.map(() =>
    Array.from({ length: opts.n }, () => ({ steps: [], logprobs: [], tokens: [], done: false }))
  );
  for (let depth = 0; depth < (opts.maxDepth ?? 8); depth++) {
    const live = sols.flatMap((ss, pi) => ss.flatMap((s, si) => (s.done ? [] : [{ pi, si, s }])));
    if (live.length === 0) break;
    for (let i = 0; i < live.length; i += 256) {
      const chunk = live.slice(i, i + 256);
      const out = policy.proposeSync(chunk.map(({ pi, si, s }) => ({
        problem: problems[pi]!.problem,
        steps: s.steps,
        k: 1,
        temperature: opts.temperature,
        topP: 1,
        seed: requestSeed(opts.seed, "choosers", pi, si, depth),
      })));
      chunk.forEach(({ s }, j) => {
        const p = out[j]?.[0];
        const c = p && toCandidate(p, runStepSync(s.steps, p));
        if (!p || !c || c.error !== undefined) {
          s.done = true;
          return;
        }
        s.steps.push(c.step);
        s.logprobs.push(p.logprob);
        s.tokens.push(p.tokens);
        if (c.terminal) {
          s.done = true;
          if (c.answer !== undefined) s.answer = c.answer;
        }
      });
    }
  }
  // Every step of every answered solution after its prefix, scored in one batched pass.
  const answered = sols.map((ss) => ss.filter((s) => s.answer !== undefined));
  const items = answered.flatMap((ss, pi) =>
    ss.flatMap((s) =>
      s.steps.map((step, d) => ({
        problem: problems[pi]!.problem,
        steps: s.steps.slice(0, d),
        candidate: step,
      }))
    )
  );
  const scores = ppm.scoreSync(items);
  let at = 0;
  return answered.map((ss) =>
    ss.map((s) => {
      const ppmScores = scores.slice(at, at += s.steps.length);
      return { answer: s.answer!, stepLogprobs: s.logprobs, stepTokens: s.tokens, ppm: ppmScores };
    })
  );
}
