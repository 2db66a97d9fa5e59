/**
 * Reliability: a policy that proposes hostile code steps (endless loops, giant numbers, huge
 * strings and lists, floods of output, deep nesting, recursion, imports, file and host access,
 * attribute escapes) next to the right step at every expansion. The built-in interpreter's limits
 * contain each one: it becomes a failed terminal step in the tree with its error kind, the search
 * spends exactly its rollout budget and still finds the right answer, and the process goes on
 * (the executor keeps working, nothing escaped to the file system, no actor restarted).
 */
import { assert, describe, it } from "vitest";
import { join } from "node:path";
import type { ExecErrorKind, ProposedStep, ProposeRequest, Step, StepProposer } from "../../math/contracts.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { answersEqual } from "../../math/grade.ts";
import { runMcts } from "../../search/strategies.ts";
import { stats } from "../../search/SearchTree.ts";
import type { SearchTree } from "../../search/types.ts";
import { startSystem } from "../../actors/system.ts";
import { silentLogger } from "../../actors/log.ts";
import { ConstantScorer } from "../../actors/scriptedPolicy.ts";
import { InMemoryBlobStore, InProcessBus } from "../../protocols/inProcessBus.ts";

const marker = join(Deno.makeTempDirSync({ prefix: "rstar-hostile-" }), "escaped");

/** Hostile steps and the error kind each must fail with. */
const HOSTILE: readonly { readonly what: string; readonly code: string; readonly kind: ExecErrorKind }[] = [
  { what: "endless loop", code: "while True:\n    pass", kind: "LimitExceeded" },
  { what: "billion-iteration loop", code: "n = 0\nwhile n < 10**9:\n    n += 1", kind: "LimitExceeded" },
  { what: "huge range", code: "for i in range(10**12):\n    pass", kind: "LimitExceeded" },
  { what: "tower of powers", code: "x = 10**10**10", kind: "LimitExceeded" },
  { what: "power tower of 7s", code: "x = 7 ** 7 ** 7", kind: "LimitExceeded" },
  { what: "factorial of a million", code: "print(factorial(10**6))", kind: "LimitExceeded" },
  { what: "gigabyte string", code: "s = 'a' * 10**9", kind: "LimitExceeded" },
  { what: "doubling string", code: "s = 'ab'\nwhile True:\n    s = s + s", kind: "LimitExceeded" },
  { what: "billion-item list", code: "x = [0] * 10**9", kind: "LimitExceeded" },
  { what: "flood of output", code: "print('x' * 9000)\nprint('y' * 9000)", kind: "LimitExceeded" },
  { what: "deep nesting", code: `x = ${"(".repeat(5000)}1${")".repeat(5000)}`, kind: "LimitExceeded" },
  { what: "recursion", code: "def f(n):\n    return f(n + 1)\nf(0)", kind: "Unsupported" },
  { what: "import", code: `import os\nos.system('touch ${marker}')`, kind: "Unsupported" },
  { what: "__import__", code: `__import__('os').system('touch ${marker}')`, kind: "Unsupported" },
  { what: "open a file", code: "print(open('/etc/passwd'))", kind: "Unsupported" },
  { what: "eval", code: `eval("open('${marker}', 'w')")`, kind: "Unsupported" },
  { what: "attribute escape", code: "x = ().__class__.__bases__[0].__subclasses__()", kind: "Unsupported" },
  { what: "host runtime", code: "Deno.exit(1)", kind: "Unsupported" },
  { what: "exit", code: "exit(1)", kind: "Unsupported" },
];

/** Problems whose right steps are known: the right step at depth d is `steps[d]`. */
const PROBLEMS = [
  { id: "apples", problem: "Ann has 6 bags with 7 apples in each. How many apples?", answer: "42", steps: ["a = 6", "b = a * 7", "print(b)"] },
  { id: "share", problem: "Share 12 pears equally among 4 children. How many each?", answer: "3", steps: ["a = 12", "b = a / 4", "print(b)"] },
  { id: "power", problem: "What is 2 to the 10th power?", answer: "1024", steps: ["a = 2", "b = a ** 10", "print(b)"] },
];

/**
 * At every expansion: the right next step among K − 1 hostile ones, which rotate with the problem
 * and the depth so that the three problems' expansions propose every hostile step. Candidates
 * depend only on the request, as a model's would on its seed.
 */
class HostilePolicy implements StepProposer {
  readonly name = "hostile";
  readonly version = "hostile-v1";
  propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    return Promise.resolve(requests.map((r) => {
      const pi = PROBLEMS.findIndex((x) => x.problem === r.problem);
      if (pi < 0) throw new Error(`unknown problem ${r.problem}`);
      const steps = PROBLEMS[pi]!.steps;
      const depth = r.steps.length;
      const out: Step[] = Array.from({ length: r.k - 1 }, (_, j) => {
        const h = HOSTILE[(pi * 3 * (K - 1) + depth * (K - 1) + j) % HOSTILE.length]!;
        return { text: h.what, code: h.code };
      });
      out.splice(depth % r.k, 0, { text: "next step", code: steps[Math.min(depth, steps.length - 1)]! });
      return out.map((s) => ({ ...s, logprob: HOSTILE.some((h) => h.code === s.code) ? -1 : 0, tokens: 4 }));
    }));
  }
}

/** Candidates per expansion: one right step, three hostile ones. */
const K = 4;
const ROLLOUTS = 24;

/**
 * Every hostile step is in one of the trees, and only as a failed terminal of its kind worth −1;
 * returns how many hostile nodes there are.
 */
function assertContained(trees: readonly SearchTree[]): number {
  let count = 0;
  for (const h of HOSTILE) {
    const nodes = trees.flatMap((t) => t.nodes.filter((n) => n.step.code === h.code));
    assert.isAbove(nodes.length, 0, `${h.what} was proposed and recorded`);
    count += nodes.length;
    for (const n of nodes) {
      assert.equal(n.error?.kind, h.kind, `${h.what} (depth ${n.depth}): ${n.error?.message}`);
      assert.isTrue(n.terminal, `${h.what} ends its path`);
      assert.equal(n.reward, -1, `${h.what} is worth -1`);
      assert.isEmpty(n.children);
    }
  }
  return count;
}

async function assertNothingEscaped(executor: SafeExecutor): Promise<void> {
  const after = await executor.runStep([{ text: "set", code: "a = 20" }], { text: "use", code: "print(a + 22)" });
  assert.deepEqual(after, { ok: true, stdout: "42\n" }, "the executor still runs steps");
  assert.isFalse(await Deno.stat(marker).then(() => true, () => false), "no hostile step touched the file system");
}

describe("hostile code steps from a policy", () => {
  it("MCTS records them as failed steps with their error kinds and still finds the answer within its budget", async () => {
    const executor = new SafeExecutor();
    const trees: SearchTree[] = [];
    for (const p of PROBLEMS) {
      const r = await runMcts(p, { proposer: new HostilePolicy(), executor, answersEqual }, { rollouts: ROLLOUTS, k: K, maxDepth: 4 }, 3);
      assert.equal(r.tree.rolloutsDone, ROLLOUTS, "the search spent exactly its rollout budget");
      assert.isTrue(stats(r.tree).solved, `${p.id}: the right path reached a correct terminal`);
      assert.equal(r.answer, p.answer);
      trees.push(r.tree);
    }
    const hostile = assertContained(trees);
    console.log(`runMcts: ${hostile} hostile nodes contained in ${PROBLEMS.length} trees`);
    await assertNothingEscaped(executor);
  }, 60_000);

  it("the actor system's search does the same, and no actor crashes or restarts", async () => {
    const executor = new SafeExecutor();
    const system = startSystem({
      bus: new InProcessBus(),
      blobs: new InMemoryBlobStore(),
      run: "hostile",
      roles: ["expander", "scorer", "searcher"],
      policy: new HostilePolicy(),
      scorer: new ConstantScorer(),
      executor,
      log: silentLogger,
      grade: answersEqual,
      heartbeatMs: 0,
    });
    try {
      const results: { problemId: string; solved: boolean; answer?: string; tree: SearchTree }[] = [];
      await system.search!.run({
        round: 1,
        mode: "train",
        problems: PROBLEMS.map((p) => ({ id: p.id, family: "hostile", level: 3, problem: p.problem, answer: p.answer })),
        config: { rollouts: ROLLOUTS, k: K, maxDepth: 4 },
        usePpm: false,
        seed: 3,
        concurrency: PROBLEMS.length,
      }, (r) => {
        results.push(r);
        return Promise.resolve();
      });
      assert.deepEqual(results.map((r) => r.problemId).sort(), PROBLEMS.map((p) => p.id).sort());
      for (const r of results) {
        assert.equal(r.tree.rolloutsDone, ROLLOUTS, `${r.problemId}: exactly its rollout budget`);
        assert.isTrue(r.solved, `${r.problemId} solved`);
        assert.equal(r.answer, PROBLEMS.find((p) => p.id === r.problemId)!.answer);
      }
      const hostile = assertContained(results.map((r) => r.tree));
      console.log(`actor system: ${hostile} hostile nodes contained in ${results.length} trees`);
      assert.deepEqual(Object.values(system.supervisor.restarts()).filter((n) => n > 0), [], "no actor restarted");
      const ended = await Promise.race([system.done, Promise.resolve("running" as const)]);
      assert.equal(ended, "running", "the supervisor is still running its actors");
      await assertNothingEscaped(executor);
    } finally {
      await system.stop();
    }
  }, 60_000);
});
