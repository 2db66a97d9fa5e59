/**
 * Solve rate of round 1's bootstrap policy by level on the test split: for each level 1–5, 100
 * generated test problems (fixed seed; 40 read a level-5 rate near 30% on either side by chance),
 * MCTS with 16 rollouts and k = 8, terminals graded with `answersEqual`. A problem counts as solved when its tree holds a correct terminal (what round 1
 * keeps as training data). Prints one JSON line per level.
 *
 *   deno run -A scripts/bench/bootstrapSolveRate.ts [--problems 100] [--seed 7] [--level 2]
 */
import { generateProblems, MAX_LEVEL, MIN_LEVEL } from "../../math/generator.ts";
import { answersEqual } from "../../math/grade.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { BootstrapPolicy } from "../../models/bootstrapPolicy.ts";
import { stats } from "../../search/SearchTree.ts";
import { requestSeed, runMcts } from "../../search/strategies.ts";

/** One level's result. */
export interface LevelRate {
  readonly level: number;
  readonly problems: number;
  readonly solved: number;
  readonly solveRate: number;
}

/** Solve rate per level of the bootstrap policy on `problems` test problems per level. */
export async function bootstrapSolveRate(opts: { problems?: number; seed?: number; levels?: readonly number[] } = {}): Promise<LevelRate[]> {
  const n = opts.problems ?? 100;
  const seed = opts.seed ?? 7;
  const levels = opts.levels ?? Array.from({ length: MAX_LEVEL - MIN_LEVEL + 1 }, (_, i) => MIN_LEVEL + i);
  const deps = { proposer: new BootstrapPolicy(), executor: new SafeExecutor(), answersEqual };
  const out: LevelRate[] = [];
  for (const level of levels) {
    const problems = generateProblems({ count: n, seed, level, split: "test" });
    let solved = 0;
    for (const p of problems) {
      const r = await runMcts({ id: p.id, problem: p.problem, answer: p.answer }, deps, { rollouts: 16, k: 8 }, requestSeed(seed, p.id));
      if (stats(r.tree).solved) solved++;
    }
    out.push({ level, problems: n, solved, solveRate: solved / n });
  }
  return out;
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Number(Deno.args[i + 1]) : undefined;
  };
  const problems = arg("--problems");
  const seed = arg("--seed");
  const level = arg("--level");
  const rows = await bootstrapSolveRate({
    ...(problems !== undefined ? { problems } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(level !== undefined ? { levels: [level] } : {}),
  });
  for (const row of rows) console.log(JSON.stringify(row));
}
