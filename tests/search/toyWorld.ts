/**
 * A toy problem for strategy tests: one correct path among many. At each depth the scripted
 * policy offers a wrong printed answer first (what greedy takes), two failing steps, and one
 * step that continues the correct path; at the last depth it offers three printed answers, one
 * of them right.
 */
import type {
  ExecResult,
  ProposedStep,
  ProposeRequest,
  Step,
  StepExecutor,
  StepProposer,
} from "../../math/contracts.ts";
import { Prng } from "../../math/prng.ts";

/** Depth of the correct path (steps before the final print). */
export const toyDepth = 3;
/** The toy problem's reference answer. */
export const toyAnswer = "42";

/** Candidates the scripted policy offers after `steps`. */
export function toyCandidates(steps: readonly Step[]): Step[] {
  const d = steps.length;
  const onPath = steps.every((s, i) => s.code === `s${i} = 1`);
  if (!onPath) return [{ text: "give up", code: "print(0)" }, { text: "fail", code: "boom" }];
  if (d === toyDepth) {
    return [
      { text: "answer 41", code: "print(41)" },
      { text: "answer 43", code: "print(43)" },
      { text: "fail", code: "boom" },
      { text: "answer 42", code: "print(42)" },
    ];
  }
  return [
    { text: `guess ${d}`, code: `print(${100 + d})` },
    { text: "fail", code: "boom" },
    { text: "fail again", code: `boom${d}` },
    { text: `step ${d}`, code: `s${d} = 1` },
  ];
}

/** The scripted policy: temperature 0 gives the first k; otherwise a seeded shuffle. */
export class ToyProposer implements StepProposer {
  readonly name = "toy";
  readonly version = "toy";
  calls = 0;
  propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    this.calls++;
    return Promise.resolve(requests.map((r) => {
      const all = toyCandidates(r.steps);
      const order = r.temperature === 0 ? all : Prng.fromSeed(r.seed).shuffle(all);
      return order.slice(0, r.k).map((s) => ({ ...s, logprob: -1, tokens: 3 }));
    }));
  }
}

/** Executes the toy language: `print(n)` prints n, `boom…` fails, anything else succeeds. */
export class ToyExecutor implements StepExecutor {
  readonly name = "toy";
  runStep(_prefix: readonly Step[], step: Step): Promise<ExecResult> {
    const m = /^print\((-?\d+)\)$/.exec(step.code);
    if (m) return Promise.resolve({ ok: true, stdout: `${m[1]}\n` });
    if (step.code.startsWith("boom")) {
      return Promise.resolve({
        ok: false,
        stdout: "",
        error: { kind: "NameError", message: `name '${step.code}' is not defined`, line: 1 },
      });
    }
    return Promise.resolve({ ok: true, stdout: "" });
  }
}
