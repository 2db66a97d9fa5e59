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
    const plain = "A shop sells 12 pens at 3/4 dollars each. It gets 25 more and has some left. How much is paid?";
    const req = { problem: plain, steps: [{ text: "multiply", code: "v1 = 12 * (3/4)" }], k: 8, temperature: 1, topP: 1, seed: 5 };
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

  it("propose() offers the textbook formula a clause calls for, and fewer rivals beside it", async () => {
    const policy = new BootstrapPolicy();
    const cases: { problem: string; steps: string[]; want: string }[] = [
      {
        problem: "From 11 runners, pick a leader and a helper. Then choose 4 of 7 runners for a team. How many ways are there in all?",
        steps: ["v1 = perm(11, 2)"],
        want: "v1 * comb(7, 4)",
      },
      {
        problem: "An arithmetic sequence starts with 9 and each term is 2 more than the one before. Find term number 15. What is the result?",
        steps: [],
        want: "9 + (15 - 1) * 2",
      },
      { problem: "The geometric sequence starts 3, 9, 27. Find the sum of the first 5 terms. What is the result?", steps: ["v1 = 9 // 3"], want: "3 * (v1 ** 5 - 1) // (v1 - 1)" },
      { problem: "Finn has 264 marbles. He gives away 3/4 of them. How many does Finn have now?", steps: [], want: "264 - 264 * (3/4)" },
      { problem: "Eva wants a hat that costs 140 dollars. It is on sale for 25% off. What is the price now in dollars?", steps: [], want: "140 * (100 - 25) / 100" },
      { problem: "x + y = 83 and x - y = 13. What is y?", steps: ["v1 = (83 + 13) // 2"], want: "83 - v1" },
      { problem: "A box has 24 cups and plates in all. There are 3 times as many cups as plates. How many cups are there?", steps: [], want: "24 // (3 + 1)" },
      { problem: "5x + y = 47 and 2x + y = 26. What is y?", steps: [], want: "(47 - 26) // (5 - 2)" },
      { problem: "I think of a number. I add 9 to it, then multiply by 8, and I get 208. What is my number?", steps: [], want: "208 // 8" },
      { problem: "Solve for x: x + 29 + 10 - 11 = 56.", steps: ["v1 = 56 + 11"], want: "v1 - 10" },
    ];
    for (const c of cases) {
      const steps = c.steps.map((code) => ({ text: "", code }));
      const reqs = Array.from({ length: 20 }, (_, seed) => ({ problem: c.problem, steps, k: 8, temperature: 1, topP: 1, seed }));
      const out = await policy.propose(reqs);
      const hits = out.filter((cands) => cands.some((s) => s.code.endsWith(`= ${c.want}`) || s.code === `print(${c.want})`)).length;
      assert.isAtLeast(hits, 19, `${c.problem}: ${c.want} in ${hits} of 20 requests`);
      // A formula drawn again takes a draw: fewer candidates than k on average.
      assert.isBelow(out.reduce((t, cands) => t + cands.length, 0) / out.length, 7.5, c.problem);
    }
  });
});
