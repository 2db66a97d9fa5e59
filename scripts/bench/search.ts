/**
 * `search.ops_per_s`: MCTS select + expand + back-propagate cycles per second on one core, with a
 * zero-cost scripted policy on 8-wide trees of depth 8. One cycle is one `ask` hand-out followed by
 * its `tell` (selection or continuation, attaching 8 children, moving into one, and
 * back-propagating when that child is terminal). Trees are rebuilt every 256 rollouts.
 */
import { ask, createTree, isDone, tell } from "../../search/SearchTree.ts";
import type { Candidate } from "../../search/types.ts";

const width = 8;
const depth = 8;

/** Pre-built candidates per depth: non-terminal steps, and graded answers at the last level. */
function scriptedCandidates(): Candidate[][] {
  const byDepth: Candidate[][] = [];
  for (let d = 0; d < depth; d++) {
    const list: Candidate[] = [];
    for (let i = 0; i < width; i++) {
      const last = d === depth - 1;
      list.push(last
        ? { step: { text: `answer ${i}`, code: `print(${i})` }, stdout: `${i}\n`, terminal: true, answer: String(i), reward: i === 3 ? 1 : -1, logprob: -2 }
        : { step: { text: `step ${d}.${i}`, code: `v${d} = ${i}` }, stdout: "", terminal: false, logprob: -2 });
    }
    byDepth.push(list);
  }
  return byDepth;
}

/** Runs search cycles for about `ms` milliseconds; returns cycles, rollouts and elapsed time. */
function runFor(ms: number, signal?: AbortSignal): { cycles: number; rollouts: number; seconds: number } {
  const cands = scriptedCandidates();
  let cycles = 0;
  let rollouts = 0;
  const t0 = performance.now();
  let seed = 1;
  while (performance.now() - t0 < ms && !(signal?.aborted ?? false)) {
    const tree = createTree({ id: `bench-${seed}`, problem: "bench" }, { rollouts: 256, k: width, maxDepth: 16 }, seed++);
    while (!isDone(tree)) {
      const { asks } = ask(tree, 8);
      for (const a of asks) {
        tell(tree, a.trialId, cands[a.steps.length]!);
        cycles++;
      }
    }
    rollouts += tree.rolloutsDone;
  }
  return { cycles, rollouts, seconds: (performance.now() - t0) / 1000 };
}

/** The search area of `rstar bench`. */
export function benchSearch(
  opts: { quick: boolean; signal?: AbortSignal },
): Promise<{ name: string; value: number; unit: string; target?: number; ok?: boolean; detail?: unknown }[]> {
  runFor(opts.quick ? 150 : 500, opts.signal); // warm-up (JIT)
  const r = runFor(opts.quick ? 1000 : 4000, opts.signal);
  const value = Math.round(r.cycles / r.seconds);
  return Promise.resolve([{
    name: "search.ops_per_s",
    value,
    unit: "ops/s",
    target: 100_000,
    ok: value >= 100_000,
    detail: { rolloutsPerSecond: Math.round(r.rollouts / r.seconds), width, depth },
  }]);
}

if (import.meta.main) {
  for (const f of await benchSearch({ quick: Deno.args.includes("--quick") })) console.log(JSON.stringify(f));
}
