/** Scripted models for the actor tests: a policy that proposes fixed steps, and a counting scorer. */
import type { ProposedStep, ProposeRequest, StepProposer, StepScorer } from "../../math/contracts.ts";

/** A policy whose candidates depend only on the request (depth and seed); counts its calls. */
export class ScriptedPolicy implements StepProposer {
  readonly name = "scripted";
  calls = 0;
  batchSizes: number[] = [];
  constructor(readonly version = "scripted-v1") {}

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

/** A scorer that gives every step the same value. */
export class ConstantScorer implements StepScorer {
  readonly name = "constant";
  readonly version = "const-v1";
  score(items: readonly { candidate: { code: string } }[]): Promise<number[]> {
    return Promise.resolve(items.map(() => 0.5));
  }
}

/** Exact string grading after trimming. */
export function exactGrade(answer: string, reference: string): boolean {
  return answer.trim() === reference.trim();
}
