/**
 * A data-quality check for training picks on problems with a reference solution (the generator's):
 * does a graded-correct solution compute what the reference computes, or did it reach the right
 * answer by a coincidence? A weak proposer searching many step sequences finds such lucky paths
 * often on long problems ("v1 = 9 + 23; print(v1 / 4 + 11)" for 11 × 9 − 23 split 4 ways), and a
 * policy trained on them learns the wrong steps. The check never steers the search or training;
 * it is reported per round so a user can see how much of the SFT data is right for the right reason.
 */
import type { Step } from "./contracts.ts";
import { canonicalAnswer } from "./grade.ts";
import { runCode } from "./interpreter.ts";

const ASSIGN = /^\s*([A-Za-z_]\w*)\s*=(?!=)/;

/**
 * Every value a step list computes: each assignment's value right after it runs (so a name that is
 * reassigned counts every time) and everything printed, canonicalised so that `180` and `180.0`
 * agree. Undefined when the code does not run.
 */
export function computedValues(steps: readonly Pick<Step, "code">[]): Set<string> | undefined {
  const lines: string[] = [];
  for (const s of steps) {
    for (const line of s.code.split("\n")) {
      lines.push(line);
      const m = ASSIGN.exec(line);
      if (m) lines.push(`print(${m[1]})`);
    }
  }
  const r = runCode(lines.join("\n"));
  if (!r.ok) return undefined;
  return new Set(r.stdout.split("\n").map((s) => s.trim()).filter((s) => s.length > 0).map(canonicalAnswer));
}

/**
 * Whether `steps` compute every value of the reference solution (its intermediate results and its
 * answer). Order and variable names do not matter; a different but equivalent grouping of the same
 * operations (8 × 7 × 6 first, then one division) does not match, so this under-counts genuine
 * solutions slightly. Undefined when there is no reference or it does not run.
 */
export function matchesReference(
  steps: readonly Pick<Step, "code">[],
  reference: readonly Pick<Step, "code">[] | undefined,
): boolean | undefined {
  if (reference === undefined || reference.length === 0) return undefined;
  const want = computedValues(reference);
  if (want === undefined) return undefined;
  const got = computedValues(steps);
  if (got === undefined) return false;
  for (const v of want) if (!got.has(v)) return false;
  return true;
}
