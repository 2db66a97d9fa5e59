import { assert, describe, it } from "vitest";
import { sftPicks } from "../../search/extract.ts";
import { beamSearch, bestOfN, compareStrategies, greedy, runMcts, toCandidate } from "../../search/strategies.ts";
import type { ProposedStep, ProposeRequest, StepProposer } from "../../math/contracts.ts";
import { ToyExecutor, ToyProposer, toyAnswer, toyDepth } from "./toyWorld.ts";

/** Every solution is 4 steps long: 3 assignments (k different ones each time), then print(7). */
class DeepProposer implements StepProposer {
  readonly name = "deep";
  readonly version = "deep";
  propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    return Promise.resolve(requests.map((r) =>
      Array.from({ length: r.k }, (_, j) =>
        r.steps.length === 3
          ? { text: "answer", code: "print(7)", logprob: -1, tokens: 3 }
          : { text: `step ${j}`, code: `v${r.steps.length}_${j} = ${j}`, logprob: -1, tokens: 3 })
    ));
  }
}

const problem = { id: "toy", problem: "Find the hidden path.", answer: toyAnswer };

describe("strategies", () => {
  it("runMcts() finds the one correct path of the toy problem within 32 rollouts", async () => {
    const deps = { proposer: new ToyProposer(), executor: new ToyExecutor() };
    for (let seed = 1; seed <= 5; seed++) {
      const r = await runMcts(problem, deps, { rollouts: 32, k: 4 }, seed);
      assert.equal(r.answer, toyAnswer, `seed ${seed}`);
      const [best] = sftPicks(r.tree);
      assert.equal(best!.steps.length, toyDepth + 1);
      assert.isAtMost(r.samples, 32 * 4);
    }
  });

  it("greedy() takes the first guess and misses the toy problem's answer", async () => {
    const r = await greedy({ id: "toy", problem: problem.problem }, { proposer: new ToyProposer(), executor: new ToyExecutor() });
    assert.notEqual(r.answer, toyAnswer);
    assert.equal(r.samples, 1);
  });

  it("runMcts() grades a right answer −1 when the trajectory fails the verify check", async () => {
    const proposer = new ToyProposer();
    const executor = new ToyExecutor();
    const r = await runMcts(problem, { proposer, executor, verify: () => false }, { rollouts: 32, k: 4 }, 1);
    assert.lengthOf(sftPicks(r.tree), 0);
    const seen: number[] = [];
    const ok = await runMcts(problem, { proposer, executor, verify: (steps) => (seen.push(steps.length), true) }, { rollouts: 32, k: 4 }, 1);
    assert.equal(ok.answer, toyAnswer);
    // It is asked about whole trajectories whose answer is right, terminal step included.
    assert.isAbove(seen.length, 0);
    assert.deepEqual([...new Set(seen)], [toyDepth + 1]);
  });

  it("runMcts() is deterministic for a seed", async () => {
    const deps = { proposer: new ToyProposer(), executor: new ToyExecutor() };
    const a = await runMcts(problem, deps, { rollouts: 8, k: 3 }, 11);
    const b = await runMcts(problem, deps, { rollouts: 8, k: 3 }, 11);
    assert.equal(JSON.stringify(a.tree), JSON.stringify(b.tree));
  });

  it("toCandidate() marks failures and printed answers as terminals", () => {
    const p = { text: "t", code: "print(x)", logprob: -0.5, tokens: 4 };
    const ok = toCandidate(p, { ok: true, stdout: "3/4\n" });
    assert.isTrue(ok.terminal);
    assert.equal(ok.answer, "3/4");
    const bad = toCandidate(p, { ok: false, stdout: "", error: { kind: "NameError", message: "x", line: 1 } });
    assert.isTrue(bad.terminal);
    assert.equal(bad.error?.kind, "NameError");
    const mid = toCandidate({ ...p, code: "x = 3" }, { ok: true, stdout: "" });
    assert.isFalse(mid.terminal);
  });

  it("best-of-N, beam and the comparison harness stay within the sample budget", async () => {
    const deps = { proposer: new ToyProposer(), executor: new ToyExecutor() };
    const bon = await bestOfN({ id: "toy", problem: problem.problem }, deps, { n: 40, maxSamples: 20, choose: "vote", seed: 3 });
    assert.isAtMost(bon.samples, 20 + 8 * (toyDepth + 1));
    const beam = await beamSearch({ id: "toy", problem: problem.problem }, deps, { width: 2, k: 4, seed: 3, maxSamples: 64 });
    assert.isAtMost(beam.samples, 64);
    const rows = await compareStrategies([problem], deps, 48, 1);
    const byName = new Map(rows.map((r) => [r.strategy, r]));
    assert.equal(byName.get("greedy")!.accuracy, 0);
    for (const r of rows) assert.equal(r.problems, 1);
  });

  it("under a budget smaller than k × depth, MCTS and best-of-N still finish a solution, exceeding it by at most one", async () => {
    const deps = { proposer: new DeepProposer(), executor: new ToyExecutor() };
    const deep = { id: "deep", problem: "Four steps to the answer." };
    // k = 4 and 4 steps: one MCTS rollout costs 16 samples, more than the budget of 6.
    const mcts = await runMcts(deep, deps, { rollouts: 12, k: 4 }, 1, { maxSamples: 6, batch: 1 });
    assert.equal(mcts.answer, "7");
    assert.isAtMost(mcts.samples, 6 + 4 * 4);
    const bon = await bestOfN(deep, deps, { n: 12, maxSamples: 6, choose: "vote", seed: 1, wave: 1 });
    assert.equal(bon.answer, "7");
    assert.equal(bon.samples, 8, "two whole solutions: the second starts at 4 samples and is finished");
  });
});
