/**
 * A data-quality check for training picks on problems with a reference solution (the generator's):
 * does a graded-correct solution compute what the reference computes, or did it reach the right
 * answer by a coincidence? A weak proposer searching many step sequences finds such lucky paths
 * often on long problems ("v1 = 9 + 23; print(v1 / 4 + 11)" for 11 × 9 − 23 split 4 ways), and a
 * policy trained on them learns the wrong steps. The check never steers the search or training;
 * it is reported per round so a user can see how much of the SFT data is right for the right reason.
 */
import type { AnswerCheck, Step } from "./contracts.ts";
import { canonicalAnswer } from "./grade.ts";
import { runCode } from "./interpreter.ts";

const ASSIGN = /^\s*([A-Za-z_]\w*)\s*=(?!=)/;
/** A number literal, not inside a name or a longer number. */
const NUMBER = /(?<![\w.])\d+(?:\.\d+)?(?![\w.])/g;

/** The non-empty lines code prints, canonicalised; undefined when it fails. */
function printed(code: string): string[] | undefined {
  const r = runCode(code);
  if (!r.ok) return undefined;
  return r.stdout.split("\n").map((x) => x.trim()).filter((x) => x.length > 0).map(canonicalAnswer);
}

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
  const out = printed(lines.join("\n"));
  return out === undefined ? undefined : new Set(out);
}

/** The answer a step list prints last, canonicalised; undefined when the code fails or prints nothing. */
function answerOf(code: string): string | undefined {
  return printed(code)?.at(-1);
}

/**
 * Replaces the number literals of code by their shifted values (not inside names or longer
 * numbers), and floor division by true division: shifted numbers rarely divide evenly, and
 * `336 // 3 // 4` and `336 / 4 / 3` are the same solution.
 */
function substitute(code: string, values: Readonly<Record<string, string>>): string {
  return code.replace(NUMBER, (m) => (Object.hasOwn(values, m) ? values[m]! : m)).replaceAll("//", "/");
}

/** Variants per problem, and the share of them a trajectory must get right. */
const TRIALS = 6;
const AGREE = 2 / 3;
/** Fewer valid variants than this: no evidence either way. */
const MIN_VALID = 3;

/**
 * Answer checks on number-shifted variants of a problem, from its reference program: every number
 * in the problem text is shifted (differently per variant) and the reference run again, with true
 * division for floor division (shifted numbers rarely divide evenly). Variants the reference cannot
 * run are left out; fewer than three valid variants give no checks. Deterministic.
 */
export function variantChecks(reference: readonly Pick<Step, "code">[], problem: string): AnswerCheck[] {
  const numbers = [...new Set([...problem.matchAll(NUMBER)].map((m) => m[0]))];
  if (numbers.length === 0 || reference.length === 0) return [];
  const ref = reference.map((s) => s.code).join("\n");
  const out: AnswerCheck[] = [];
  for (let t = 1; t <= TRIALS; t++) {
    const shift = Object.fromEntries(numbers.map((n, i) => [n, String(Number(n) + t + ((i * 7 + t * 3) % 5))]));
    const answer = answerOf(substitute(ref, shift));
    if (answer !== undefined) out.push({ numbers: shift, answer });
  }
  return out.length >= MIN_VALID ? out : [];
}

/**
 * Whether `steps`, run on each variant's numbers, print the variant's answer on at least two
 * thirds of the checks. True when there are no checks (nothing to hold against the steps).
 */
export function passesChecks(steps: readonly Pick<Step, "code">[], checks: readonly AnswerCheck[]): boolean {
  if (checks.length === 0) return true;
  const code = steps.map((s) => s.code).join("\n");
  let agree = 0;
  for (const c of checks) {
    if (answerOf(substitute(code, c.numbers)) === c.answer) agree++;
  }
  return agree >= AGREE * checks.length;
}

/**
 * Whether `steps` compute the same function of the problem's numbers as the reference: both run
 * on number-shifted variants of the problem (`variantChecks`), and `steps` must get at least two
 * thirds of the answers of the at least three variants the reference runs on. `5 * 5 * 8` for
 * `(8 * 5) * 5` agrees; `(9 + 23) / 4 + 11` for `(11 * 9 − 23) // 4`, equal only at the original
 * numbers, does not.
 */
export function equivalentToReference(
  steps: readonly Pick<Step, "code">[],
  reference: readonly Pick<Step, "code">[],
  problem: string,
): boolean {
  const checks = variantChecks(reference, problem);
  return checks.length > 0 && passesChecks(steps, checks);
}

/**
 * Whether `steps` solve the problem the way its reference solution does: they compute every value
 * the reference computes (its intermediate results and its answer, in any order and under any
 * names), or, when they group the work differently, they agree with the reference when the
 * problem's numbers change (`equivalentToReference`). A graded-correct solution that does neither
 * reached the right answer by a coincidence. Undefined when there is no reference or it fails.
 */
export function matchesReference(
  steps: readonly Pick<Step, "code">[],
  reference: readonly Pick<Step, "code">[] | undefined,
  problem: string,
): boolean | undefined {
  if (reference === undefined || reference.length === 0) return undefined;
  const want = computedValues(reference);
  if (want === undefined) return undefined;
  const got = computedValues(steps);
  if (got === undefined) return false;
  if ([...want].every((v) => got.has(v))) return true;
  return equivalentToReference(steps, reference, problem);
}
