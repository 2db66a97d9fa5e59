/**
 * Scripted models: a policy whose candidates depend only on the request (its depth and seed), a
 * scorer that gives every step the same value, and exact grading. They make searches repeatable
 * across transports and processes; `rstar worker` uses them when `RSTAR_TEST_POLICY=scripted`
 * is set (a test hook, see docs/ACTORS.md).
 */
import type { ProposedStep, ProposeRequest, ScoreItem, StepProposer, StepScorer } from "../math/contracts.ts";

/** A three-step scripted policy: assign x, derive y, print y; counts its calls and batch sizes. */
export class ScriptedPolicy implements StepProposer {
  /** Implementation name. */
  readonly name = "scripted";
  /** Propose calls so far. */
  calls = 0;
  /** Size of each propose call. */
  batchSizes: number[] = [];
  constructor(readonly version = "scripted-v1") {}

  /** Returns k fixed candidates per request. */
  propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    this.calls++;
    this.batchSizes.push(requests.length);
    return Promise.resolve(requests.map((r) => {
      const depth = r.steps.length;
      return Array.from({ length: r.k }, (_, i): ProposedStep => {
        const v = (r.seed + i) % 5;
        if (depth === 0) return { text: `set x to ${v}`, code: `x = ${v}`, logprob: -i * 0.1, tokens: 4 };
        if (depth === 1) return { text: `add ${i}`, code: `y = x + ${i}`, logprob: -i * 0.1, tokens: 4 };
        return { text: "answer", code: "print(y)", logprob: 0, tokens: 2 };
      });
    }));
  }
}

/** A scorer that gives every step the value 0.5. */
export class ConstantScorer implements StepScorer {
  /** Implementation name. */
  readonly name = "constant";
  /** Fixed version. */
  readonly version = "const-v1";
  /** Scores every item 0.5. */
  score(items: readonly ScoreItem[]): Promise<number[]> {
    return Promise.resolve(items.map(() => 0.5));
  }
}

/** Exact string grading after trimming. */
export function exactGrade(answer: string, reference: string): boolean {
  return answer.trim() === reference.trim();
}
