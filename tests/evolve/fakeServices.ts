/**
 * Deterministic fake `EvolveServices` for coordinator tests: problems, search outcomes, training
 * and evaluation are pure functions of seeds and ids, so an interrupted run and an uninterrupted
 * one must produce the same summary.
 */
import type { Problem } from "../../math/contracts.ts";
import { hashString } from "../../math/prng.ts";
import type { EvolveConfig } from "../../scripts/run/config.ts";
import type { EvolveServices, SearchOutcome } from "../../actors/coordinator.ts";
import { join } from "node:path";

function h(...parts: (string | number)[]): number {
  return hashString(parts.join(":"))[0] / 2 ** 32;
}

/** Counters the tests inspect. */
export interface FakeCounters {
  searched: string[];
  trained: number[];
  evaluated: string[];
  /** `${round}:${strategy}:${problemId}` of every problem evaluated, when given. */
  evaluatedProblems?: string[];
}

/** Builds fake services; `duplicateResults` makes search report every problem twice. */
export function fakeServices(opts: { duplicateResults?: boolean; counters?: FakeCounters } = {}): EvolveServices {
  const counters = opts.counters;
  const problems = (config: EvolveConfig, split: string, round: number, count: number): Problem[] =>
    Array.from({ length: count }, (_, i) => {
      const level = config.train.levels[i % config.train.levels.length]!;
      return {
        id: `${split}-${config.seed}-${round}-${i}`,
        family: "fake",
        level,
        problem: `fake problem ${i} of round ${round}`,
        answer: String(i + 1),
      };
    });
  return {
    trainProblems: (config, round) => Promise.resolve(problems(config, "train", round, config.train.problemsPerRound)),
    testProblems: (config) => Promise.resolve(problems(config, "test", 0, config.test.problems)),
    async search(req, onResult) {
      for (const p of req.problems) {
        const seed = `${req.seed}:${p.id}`;
        const chance = (0.9 - 0.15 * p.level + 0.1 * req.round) * (req.phase === "retry" ? 1.5 : 1);
        const solved = h(seed, "solve") < chance;
        const steps = [{ text: "compute", code: `x = ${p.level}` }, { text: "answer", code: `print(${p.answer})` }];
        const out: SearchOutcome = {
          problemId: p.id,
          solved,
          ...(solved ? { answer: p.answer } : {}),
          rollouts: req.knobs.rollouts,
          tokens: 10 * req.knobs.rollouts,
          wallMs: 5,
          trajectories: { total: 3, correct: solved ? 2 : 0 },
          sft: solved ? [{ problemId: p.id, problem: p.problem, steps, answer: p.answer, meanQ: 0.5 }] : [],
          pairs: solved
            ? [{ problemId: p.id, problem: p.problem, steps: [], chosen: steps[0]!, rejected: { text: "bad", code: "x = 0" }, margin: 1 }]
            : [],
          versions: { policy: req.policy.kind === "bootstrap" ? "bootstrap" : req.policy.version, ...(req.scorer && req.scorer.kind === "checkpoint" ? { scorer: req.scorer.version } : {}) },
          tree: { problemId: p.id, problem: p.problem, nodes: [{ id: 0, parent: -1, children: [], N: 1, W: 1, step: { text: "", code: "" } }] },
        };
        counters?.searched.push(`${req.round}:${req.phase}:${p.id}`);
        await onResult(out);
        if (opts.duplicateResults) await onResult(out);
      }
    },
    train(req) {
      counters?.trained.push(req.round);
      Deno.mkdirSync(req.policyDir, { recursive: true });
      Deno.mkdirSync(req.ppmDir, { recursive: true });
      Deno.writeTextFileSync(join(req.policyDir, "config.json"), JSON.stringify({ n: req.sft.length }));
      Deno.writeTextFileSync(join(req.ppmDir, "config.json"), JSON.stringify({ n: req.pairs.length }));
      const l0 = 2 + h(req.seed, req.sft.length);
      return Promise.resolve({
        losses: { policy: [l0, l0 / 2], ppm: [0.69, 0.5 - 0.001 * req.pairs.length] },
        versions: { policy: `policy-r${req.round}`, scorer: `ppm-r${req.round}` },
        tokens: 100 * req.sft.length,
      });
    },
    async evaluate(req, _ctx, onResult) {
      counters?.evaluated.push(`${req.round}:${req.strategy}`);
      const answers = new Map<string, string | undefined>();
      const bonus = { greedy: 0, "bon-vote": 0.1, "bon-ppm": 0.15, mcts: 0.2 }[req.strategy];
      for (const p of req.problems) {
        if (p.answer !== "") throw new Error("evaluation saw a reference answer");
        const i = Number(p.id.split("-").pop());
        const ok = h(req.seed, p.id) < 0.2 * req.round + bonus - 0.05 * p.level;
        answers.set(p.id, ok ? String(i + 1) : "wrong");
        counters?.evaluatedProblems?.push(`${req.round}:${req.strategy}:${p.id}`);
        await onResult?.({ problemId: p.id, answer: answers.get(p.id)!, samples: req.samples, tokens: req.samples });
      }
      return { answers, samples: req.samples, tokens: req.samples * req.problems.length, versions: { policy: req.policy.kind === "checkpoint" ? req.policy.version : "bootstrap" } };
    },
    answersEqual: (a, b) => a.trim() === b.trim(),
    close: () => Promise.resolve(),
  };
}
