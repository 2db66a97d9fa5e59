import { assert, describe, it } from "vitest";
import type { ProposedStep, ProposeRequest, StepProposer } from "../../math/contracts.ts";
import { greedySolve } from "../../models/rollout.ts";

/** A scripted proposer: the next step for a problem is looked up by how many steps it has. */
function scripted(script: Record<string, string[]>): StepProposer & { calls: number } {
  const p = {
    name: "scripted",
    version: "test",
    calls: 0,
    propose(reqs: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
      p.calls++;
      return Promise.resolve(reqs.map((r) => {
        const code = script[r.problem]![r.steps.length] ?? "x = 1";
        return [{ text: "step", code, logprob: 0, tokens: 1 }];
      }));
    },
  };
  return p;
}

describe("greedySolve", () => {
  it("ends each problem at its printed answer, a failing step, or the step budget", async () => {
    const policy = scripted({
      a: ["x = 2 + 3", "print(x * 2)"],
      b: ["y = 1 / 0"],
      c: [],
    });
    const [a, b, c] = await greedySolve(policy, ["a", "b", "c"], { maxSteps: 3 });
    assert.deepEqual([a!.end, a!.answer, a!.steps.length], ["answer", "10", 2]);
    assert.deepEqual([b!.end, b!.answer], ["error", undefined]);
    assert.deepEqual([c!.end, c!.steps.length], ["budget", 3]);
    // One batched call per depth.
    assert.equal(policy.calls, 3);
  });
});
