import { describe, expect, it } from "vitest";
import { generateProblems } from "../../math/generator.ts";
import { variantChecks } from "../../math/reference.ts";
import { withChecks } from "../../scripts/run/localServices.ts";

describe("withChecks (training problems under train.grade: variants)", () => {
  it("gives a generated problem its reference's variant answers and leaves a problem without a reference alone", () => {
    const [p] = generateProblems({ count: 1, seed: 5, level: 3 });
    const checked = withChecks(p!);
    expect(checked.checks).toEqual(variantChecks(p!.solution!, p!.problem));
    expect(checked.checks!.length).toBeGreaterThanOrEqual(3);
    const bare = { ...p!, solution: undefined };
    expect(withChecks(bare)).toBe(bare);
  });
});
