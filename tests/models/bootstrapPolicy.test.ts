import { assert, describe, it } from "vitest";
import { assignedVariables, BootstrapPolicy, problemNumbers } from "../../models/bootstrapPolicy.ts";

const problem = "A shop sells 12 pens at 3/4 dollars each and gives 25% off. How much is paid?";

describe("BootstrapPolicy", () => {
  it("problemNumbers() reads integers, fractions and percents from the text", () => {
    assert.deepEqual(problemNumbers(problem).map((n) => n.code), ["12", "(3/4)", "(25/100)", "25"]);
  });

  it("assignedVariables() lists names assigned by earlier steps, latest last", () => {
    assert.deepEqual(assignedVariables([{ text: "a", code: "v1 = 2" }, { text: "b", code: "x = v1 + 1\nv1 = x" }]), ["x", "v1"]);
  });

  it("propose() returns k distinct steps that are the same for the same seed", async () => {
    const policy = new BootstrapPolicy();
    const req = { problem, steps: [{ text: "multiply", code: "v1 = 12 * (3/4)" }], k: 8, temperature: 1, topP: 1, seed: 5 };
    const [a] = await policy.propose([req]);
    const [b] = await policy.propose([req]);
    assert.equal(a!.length, 8);
    assert.equal(new Set(a!.map((s) => s.code)).size, 8);
    assert.deepEqual(a, b);
    const [c] = await policy.propose([{ ...req, seed: 6 }]);
    assert.notDeepEqual(a, c);
    for (const s of a!) {
      assert.match(s.code, /^(v2 = .+|print\(.+\))$/);
      assert.isAbove(s.text.length, 0);
      assert.isAtMost(s.logprob, 0);
    }
  });

  it("propose() prints more often as the path gets deeper", async () => {
    const policy = new BootstrapPolicy();
    const prints = async (depth: number) => {
      const steps = Array.from({ length: depth }, (_, i) => ({ text: "s", code: `v${i + 1} = ${i + 2}` }));
      const reqs = Array.from({ length: 40 }, (_, seed) => ({ problem, steps, k: 4, temperature: 1, topP: 1, seed }));
      const out = await policy.propose(reqs);
      return out.flat().filter((s) => s.code.startsWith("print(")).length;
    };
    assert.isAbove(await prints(4), await prints(0));
  });
});
