import { describe, expect, it } from "vitest";
import { generateProblems } from "../../math/generator.ts";
import { computedValues, equivalentToReference, matchesReference, passesChecks, variantChecks } from "../../math/reference.ts";

const code = (...lines: string[]) => lines.map((c) => ({ code: c }));

const text = "A worker makes 11 chairs each hour and works 9 hours. 23 chairs fail the check. The chairs are sent equally to 4 shops. How many chairs does one shop get?";

describe("matchesReference", () => {
  const reference = code("total = 11 * 9", "good = total - 23", "print(good // 4)");

  it("accepts a solution that computes the reference's values under other names and forms", () => {
    expect(matchesReference(code("v1 = 9 * 11", "v2 = v1 - 23", "print(v2 / 4)"), reference, text)).toBe(true);
  });

  it("rejects a lucky path that prints the right answer from the wrong computation", () => {
    // (9 + 23) / 4 + 11 = 19 = (11 * 9 - 23) // 4
    expect(matchesReference(code("v1 = 9 + 23", "v2 = v1 / 4", "print(v2 + 11)"), reference, text)).toBe(false);
  });

  it("counts every value of a reassigned name", () => {
    expect(computedValues(code("r = 664 % 6", "r = r * 10", "print(r + 12)"))).toEqual(new Set(["4", "40", "52"]));
    const p = "Take the remainder of 664 divided by 6. Take the greatest common divisor of the result and 40. Add 12.";
    expect(matchesReference(code("v1 = 664 % 6", "print(v1 + 12)"), code("r = 664 % 6", "r = gcd(r, 40)", "print(r + 12)"), p)).toBe(true);
    expect(matchesReference(code("print(8 + 8)"), code("r = 664 % 6", "r = gcd(r, 40)", "print(r + 12)"), p)).toBe(false);
  });

  it("accepts the same computation grouped differently, which agrees when the problem's numbers change", () => {
    const p = "I think of a number. I multiply by 4, then multiply by 3, and I get 336. What is my number?";
    const ref = code("value = 336 // 3", "print(value // 4)");
    expect(equivalentToReference(code("v1 = 336 / 4", "print(v1 / 3)"), ref, p)).toBe(true);
    expect(matchesReference(code("v1 = 4 * 3", "print(336 / v1)"), ref, p)).toBe(true);
    // 336 - 308 = 28 as well, but only for these numbers.
    expect(matchesReference(code("v1 = 4 * 77", "print(336 - v1)"), ref, p)).toBe(false);
  });

  it("is undefined without a reference and false for code that fails", () => {
    expect(matchesReference(code("print(1)"), undefined, text)).toBeUndefined();
    expect(matchesReference(code("print(1 / 0)"), reference, text)).toBe(false);
  });

  it("accepts every generated problem's own reference solution", () => {
    for (let level = 1; level <= 5; level++) {
      for (const p of generateProblems({ count: 40, seed: 7, level })) {
        expect(matchesReference(p.solution!, p.solution, p.problem), p.problem).toBe(true);
      }
    }
  });
});

describe("variantChecks and passesChecks (the variants grader)", () => {
  const reference = code("total = 11 * 9", "good = total - 23", "print(good // 4)");

  it("gives the reference's answers on number-shifted variants, the same ones every time", () => {
    const checks = variantChecks(reference, text);
    expect(checks.length).toBeGreaterThanOrEqual(3);
    expect(variantChecks(reference, text)).toEqual(checks);
    for (const c of checks) {
      // Every number of the problem text is replaced, and the answer is the reference's on them.
      expect(Object.keys(c.numbers).sort()).toEqual(["11", "23", "4", "9"]);
      const [a, b, d, e] = ["11", "9", "23", "4"].map((k) => Number(c.numbers[k]));
      const [num, den = "1"] = c.answer.split("/");
      expect(Number(num) / Number(den)).toBeCloseTo((a! * b! - d!) / e!, 9);
    }
  });

  it("passes a genuine solution under any names and grouping and fails a coincidence of the numbers", () => {
    const checks = variantChecks(reference, text);
    expect(passesChecks(code("v1 = 9 * 11", "v2 = v1 - 23", "print(v2 / 4)"), checks)).toBe(true);
    expect(passesChecks(code("v1 = 9 * 11", "print((v1 - 23) // 4)"), checks)).toBe(true);
    // (9 + 23) / 4 + 11 = 19 = (11 * 9 - 23) // 4, for these numbers only.
    expect(passesChecks(code("v1 = 9 + 23", "v2 = v1 / 4", "print(v2 + 11)"), checks)).toBe(false);
    expect(passesChecks(code("print(19)"), checks)).toBe(false);
    expect(passesChecks(code("print(1 / 0)"), checks)).toBe(false);
  });

  it("has nothing to hold against a solution when the reference gives too few variants", () => {
    expect(variantChecks(code("print(19)"), "How many are 19 and nothing else?").length).toBeGreaterThan(0);
    expect(variantChecks(reference, "No numbers here.")).toEqual([]);
    expect(variantChecks(code("print(1 / 0)"), text)).toEqual([]);
    expect(passesChecks(code("print(19)"), [])).toBe(true);
  });

  it("passes every generated problem's own reference solution", () => {
    for (let level = 1; level <= 5; level++) {
      for (const p of generateProblems({ count: 40, seed: 11, level })) {
        expect(passesChecks(p.solution!, variantChecks(p.solution!, p.problem)), p.problem).toBe(true);
      }
    }
  });
});
