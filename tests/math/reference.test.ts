import { describe, expect, it } from "vitest";
import { generateProblems } from "../../math/generator.ts";
import { computedValues, matchesReference } from "../../math/reference.ts";

const code = (...lines: string[]) => lines.map((c) => ({ code: c }));

describe("matchesReference", () => {
  const reference = code("total = 11 * 9", "good = total - 23", "print(good // 4)");

  it("accepts a solution that computes the reference's values under other names and forms", () => {
    expect(matchesReference(code("v1 = 9 * 11", "v2 = v1 - 23", "print(v2 / 4)"), reference)).toBe(true);
  });

  it("rejects a lucky path that prints the right answer from the wrong computation", () => {
    // (9 + 23) / 4 + 11 = 19 = (11 * 9 - 23) // 4
    expect(matchesReference(code("v1 = 9 + 23", "v2 = v1 / 4", "print(v2 + 11)"), reference)).toBe(false);
  });

  it("counts every value of a reassigned name", () => {
    expect(computedValues(code("r = 664 % 6", "r = r * 10", "print(r + 12)"))).toEqual(new Set(["4", "40", "52"]));
    expect(matchesReference(code("v1 = 664 % 6", "print(v1 + 12)"), code("r = 664 % 6", "r = gcd(r, 40)", "print(r + 12)"))).toBe(true);
    expect(matchesReference(code("print(8 + 8)"), code("r = 664 % 6", "r = gcd(r, 40)", "print(r + 12)"))).toBe(false);
  });

  it("is undefined without a reference and false for code that fails", () => {
    expect(matchesReference(code("print(1)"), undefined)).toBeUndefined();
    expect(matchesReference(code("print(1 / 0)"), reference)).toBe(false);
  });

  it("accepts every generated problem's own reference solution", () => {
    for (let level = 1; level <= 5; level++) {
      for (const p of generateProblems({ count: 40, seed: 7, level })) {
        expect(matchesReference(p.solution!, p.solution), p.problem).toBe(true);
      }
    }
  });
});
