/**
 * Policy-only solving: roll out one step at a time for many problems at once (one batched
 * `propose` per depth), executing each step with the safe interpreter; a step that fails to run
 * ends its problem unsolved, a step that prints ends it with that answer. This is the "policy
 * alone" evaluation (the paper's Table 3 baseline) and the SFT sanity check.
 */
import type { Step, StepProposer } from "../math/contracts.ts";
import { runStepSync } from "../math/interpreter.ts";

/** How one problem's rollout ended. */
export interface Rollout {
  readonly steps: Step[];
  /** The printed answer (last printed line), or undefined when no step printed. */
  readonly answer: string | undefined;
  /** Why it ended: printed an answer, a step failed to execute, or the step budget ran out. */
  readonly end: "answer" | "error" | "budget";
}

/** Options of `greedySolve`. */
export interface RolloutOptions {
  /** Step budget per problem (default 8). */
  readonly maxSteps?: number;
  /** Sampling temperature (default 0: greedy). */
  readonly temperature?: number;
  readonly seed?: number;
  /** Problems per propose call (default 64). */
  readonly batch?: number;
}

/** Solves every problem by rolling out the policy's steps (greedy unless a temperature is given). */
export async function greedySolve(
  policy: StepProposer,
  problems: readonly string[],
  opts: RolloutOptions = {},
): Promise<Rollout[]> {
  const maxSteps = opts.maxSteps ?? 8;
  const batch = opts.batch ?? 64;
  const state = problems.map(() => ({ steps: [] as Step[], answer: undefined as string | undefined, end: undefined as Rollout["end"] | undefined }));
  for (let depth = 0; depth < maxSteps; depth++) {
    const open = state.map((s, i) => ({ s, i })).filter(({ s }) => s.end === undefined);
    if (open.length === 0) break;
    for (let b = 0; b < open.length; b += batch) {
      const part = open.slice(b, b + batch);
      const res = await policy.propose(part.map(({ s, i }) => ({
        problem: problems[i]!,
        steps: s.steps,
        k: 1,
        temperature: opts.temperature ?? 0,
        topP: 1,
        seed: (opts.seed ?? 0) * 1_000_003 + i * 131 + depth,
      })));
      part.forEach(({ s }, j) => {
        const cand = res[j]?.[0];
        if (cand === undefined) {
          s.end = "error";
          return;
        }
        const step: Step = { text: cand.text, code: cand.code };
        const out = runStepSync(s.steps, step);
        s.steps.push(step);
        if (!out.ok) {
          s.end = "error";
        } else if (out.stdout.length > 0) {
          const lines = out.stdout.trimEnd().split("\n");
          s.answer = lines[lines.length - 1]!.trim();
          s.end = "answer";
        }
      });
    }
  }
  return state.map((s) => ({ steps: s.steps, answer: s.answer, end: s.end ?? "budget" }));
}
