/**
 * The domain's shared vocabulary: problems, steps, execution results, and the two model
 * contracts (a step proposer and a step scorer). `search/` consumes these contracts and
 * `models/` implements them; both import only this innermost layer, so neither knows the other.
 */

/** A math problem with its exact reference answer. `solution` is for tests only: search never sees it. */
export interface Problem {
  readonly id: string;
  readonly family: string;
  /** Difficulty 1–5 = the minimum number of solution steps (0 when unknown, e.g. external data). */
  readonly level: number;
  readonly problem: string;
  /** Canonical reference answer, e.g. "12", "-5", "3/4", "(2, 3)". Empty when unknown (test-time). */
  readonly answer: string;
  readonly solution?: readonly Step[];
  /**
   * Hidden answer checks for training graders (`math/reference.ts` `variantChecks`): the answer
   * when the problem's numbers are replaced as given, computed from a reference program. Search
   * never sees them; a grader that has them counts a correct answer only when the trajectory's
   * code also gets these answers.
   */
  readonly checks?: readonly AnswerCheck[];
}

/** The answer to a variant of a problem: its numbers replaced (`"12"` → `"15"`, ...). */
export interface AnswerCheck {
  readonly numbers: Readonly<Record<string, string>>;
  readonly answer: string;
}

/**
 * One step of code-augmented chain of thought: a one-line comment saying what the step does,
 * plus code in the step language (a Python subset). Rendered as `# ${text}\n${code}`.
 * The step whose code calls `print(...)` ends the solution: its printed value is the answer.
 */
export interface Step {
  readonly text: string;
  readonly code: string;
}

/** Kinds of execution failure; every failure is a value, never an exception. */
export type ExecErrorKind =
  | "SyntaxError"
  | "NameError"
  | "ZeroDivisionError"
  | "TypeError"
  | "ValueError"
  | "LimitExceeded"
  | "Unsupported";

export interface ExecError {
  readonly kind: ExecErrorKind;
  readonly message: string;
  /** 1-based line in the code that was run (the step's own code for step execution). */
  readonly line: number;
}

/** Result of running code: `stdout` holds what `print` wrote (each call one line, ending "\n"). */
export interface ExecResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly error?: ExecError;
}

/**
 * Runs one step in the environment its path built (the earlier steps' code runs first; only the
 * new step's output is reported). Implementations: the built-in safe interpreter (default) and a
 * pool of `python3 -I` processes for real code models.
 */
export interface StepExecutor {
  readonly name: string;
  runStep(prefix: readonly Step[], step: Step): Promise<ExecResult>;
  close?(): Promise<void>;
}

/** A request for k candidate next steps, given the problem and the steps so far. */
export interface ProposeRequest {
  readonly problem: string;
  readonly steps: readonly Step[];
  readonly k: number;
  /** Sampling temperature; 0 = greedy (then k is usually 1). */
  readonly temperature: number;
  readonly topP: number;
  /** Seed for this request's sampling: same seed and same model, same candidates. */
  readonly seed: number;
}

/** A proposed next step with its log-probability under the policy (0 when not defined). */
export interface ProposedStep extends Step {
  readonly logprob: number;
  /** Tokens generated for this step (for throughput accounting). */
  readonly tokens: number;
}

/** Writes candidate next steps. One call folds all requests into one batched generation. */
export interface StepProposer {
  readonly name: string;
  /** Version of the weights in use, recorded in every result ("bootstrap", "policy-r2", ...). */
  readonly version: string;
  propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]>;
}

/** One (problem, steps so far, candidate step) triple to score. */
export interface ScoreItem {
  readonly problem: string;
  readonly steps: readonly Step[];
  readonly candidate: Step;
}

/** Scores candidate steps in [−1, 1] (a PPM, an ORM, a Q-regression model, or a remote endpoint). */
export interface StepScorer {
  readonly name: string;
  readonly version: string;
  score(items: readonly ScoreItem[]): Promise<number[]>;
}

/** Renders a step as the text a model reads and writes. */
export function renderStep(step: Step): string {
  return step.code.length > 0 ? `# ${step.text}\n${step.code}` : `# ${step.text}`;
}
