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

  it("propose() prints once every problem number is used, and rarely before", async () => {
    const policy = new BootstrapPolicy();
    const prints = async (steps: { text: string; code: string }[]) => {
      const reqs = Array.from({ length: 40 }, (_, seed) => ({ problem, steps, k: 4, temperature: 1, topP: 1, seed }));
      const out = await policy.propose(reqs);
      return out.flat().filter((s) => s.code.startsWith("print(")).length;
    };
    const unrelated = Array.from({ length: 3 }, (_, i) => ({ text: "s", code: `v${i + 1} = ${i + 2}` }));
    const allUsed = [{ text: "a", code: "v1 = 12 * (3/4)" }, { text: "b", code: "v2 = v1 * (25/100)" }];
    const before = await prints(unrelated);
    const after = await prints(allUsed);
    assert.isAtMost(before, 16);
    assert.isAbove(after, 80);
  });

  it("propose() chains from the latest result and avoids degenerate or uncued operations", async () => {
    const policy = new BootstrapPolicy();
    const plain = "Ann has 14 apples. She buys 10 more. Then she buys 6 more. How many apples does she have?";
    const steps = [{ text: "add", code: "v1 = 14 + 10" }];
    const reqs = Array.from({ length: 40 }, (_, seed) => ({ problem: plain, steps, k: 8, temperature: 1, topP: 1, seed }));
    const out = (await policy.propose(reqs)).flat();
    const fromLatest = out.filter((s) => /\bv1\b/.test(s.code)).length;
    assert.isAbove(fromLatest, out.length / 2);
    for (const s of out) {
      assert.notMatch(s.code, /(\*|\/\/?|%|\*\*) 1\b|\b(\w+) (-|\/\/?) \2\b|\b1 \*/, s.code);
      assert.notMatch(s.code, /gcd|lcm|comb|perm|factorial|digit_sum|%|\*\*/, s.code);
      // 14 and 10 are used already; they come back rarely if ever.
    }
    const reused = out.filter((s) => /\b(14|10)\b/.test(s.code)).length;
    assert.isBelow(reused, out.length / 10);
  });
});
