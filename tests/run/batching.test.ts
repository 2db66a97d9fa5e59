import { assert, describe, it } from "vitest";
import type { ProposedStep, ProposeRequest, StepProposer } from "../../math/contracts.ts";
import { BatchingProposer, mapConcurrent, MemoProposer } from "../../scripts/run/batching.ts";
import { ConstantScorer, ScriptedPolicy } from "../../actors/scriptedPolicy.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { bestOfN } from "../../search/strategies.ts";

class CountingProposer implements StepProposer {
  readonly name = "counting";
  readonly version = "v1";
  calls: number[] = [];
  propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    this.calls.push(requests.length);
    return Promise.resolve(requests.map((r) =>
      Array.from({ length: r.k }, (_, j) => ({ text: r.problem, code: `x = ${r.seed}${j}`, logprob: 0, tokens: 1 }))
    ));
  }
}

const req = (problem: string, seed: number, k = 2): ProposeRequest => ({ problem, steps: [], k, temperature: 1, topP: 1, seed });

describe("BatchingProposer", () => {
  it("folds concurrent propose() calls into one inner call and hands each caller its own slice", async () => {
    const inner = new CountingProposer();
    const p = new BatchingProposer(inner);
    const outs = await Promise.all([p.propose([req("a", 1)]), p.propose([req("b", 2), req("c", 3)]), p.propose([req("d", 4)])]);
    assert.deepEqual(inner.calls, [4]);
    assert.deepEqual(outs.map((o) => o.map((c) => c[0]!.text)), [["a"], ["b", "c"], ["d"]]);
    assert.equal(outs[1]![1]![1]!.code, "x = 31");
  });

  it("splits a fold at maxSamples rows without splitting a caller", async () => {
    const inner = new CountingProposer();
    const p = new BatchingProposer(inner, 4);
    await Promise.all([p.propose([req("a", 1), req("b", 2)]), p.propose([req("c", 3)]), p.propose([req("d", 4, 4)])]);
    assert.deepEqual(inner.calls, [2, 1, 1]);
  });
});

describe("mapConcurrent", () => {
  it("keeps input order and never exceeds the concurrency", async () => {
    let live = 0;
    let peak = 0;
    const out = await mapConcurrent([5, 1, 4, 2, 3], 2, async (x) => {
      live++;
      peak = Math.max(peak, live);
      await new Promise((r) => setTimeout(r, x));
      live--;
      return x * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30]);
    assert.equal(peak, 2);
  });
});

describe("MemoProposer", () => {
  it("lets best-of-N by the PPM choose among the very solutions best-of-N by vote sampled, generating none again", async () => {
    const inner = new ScriptedPolicy();
    const memo = new MemoProposer(inner);
    const executor = new SafeExecutor();
    const problem = { id: "p", problem: "What is x + 1?" };
    const opts = { n: 8, temperature: 0.8, maxDepth: 4, seed: 11 };
    const vote = await bestOfN(problem, { proposer: memo, executor }, { ...opts, choose: "vote" });
    const callsAfterVote = inner.calls;
    const byPpm = await bestOfN(problem, { proposer: memo, executor, scorer: new ConstantScorer() }, { ...opts, choose: "scorer" });
    assert.isAbove(callsAfterVote, 0);
    assert.equal(inner.calls, callsAfterVote, "no new model calls");
    assert.equal(byPpm.samples, vote.samples);
    assert.equal(byPpm.tokens, vote.tokens);
    assert.equal(memo.hits, vote.samples);
    // A request that differs in any sampling field is a new call.
    await memo.propose([{ problem: problem.problem, steps: [], k: 1, temperature: 0.8, topP: 1, seed: 12345 }]);
    assert.equal(inner.calls, callsAfterVote + 1);
  });
});
