/**
 * The text format a remote model reads and writes, shared by `OpenAIPolicy` (which asks the model
 * to continue it) and `RemoteScorer` (which asks a reward model to score it).
 *
 * A prompt is the header, the problem, and the steps so far, each step rendered with
 * `renderStep` and closed by the step delimiter (default `<end_of_step>`, as in rStar-Math):
 *
 * ```text
 * Solve the math problem step by step. Each step is one `# comment` line saying what the step
 * does, then Python code. The last step prints the final answer.
 *
 * Problem: Tom has 3 apples and buys 4 more. How many apples does he have?
 *
 * Solution:
 * # Count the apples after buying
 * total = 3 + 4
 * <end_of_step>
 * ```
 *
 * The model writes the next step and stops at the delimiter (sent as a stop sequence). A
 * completion is parsed back with `parseStep`: its first `# ...` line is the step's text and the
 * remaining lines are its code.
 */
import { renderStep, type Step } from "../math/contracts.ts";

/** Default step delimiter: the stop sequence that ends one generated step. */
export const defaultStepDelimiter = "<end_of_step>";

/** Default instruction line(s) placed before the problem. */
export const defaultPromptHeader =
  "Solve the math problem step by step. Each step is one `# comment` line saying what the step " +
  "does, then Python code. The last step prints the final answer.";

/** How prompts are laid out. */
export interface PromptFormat {
  readonly header: string;
  readonly delimiter: string;
}

/** The default layout. */
export const defaultPromptFormat: PromptFormat = {
  header: defaultPromptHeader,
  delimiter: defaultStepDelimiter,
};

/** The prompt asking for the next step after `steps` (ends where the model should continue). */
export function renderPrompt(problem: string, steps: readonly Step[], format: PromptFormat = defaultPromptFormat): string {
  let out = `${format.header}\n\nProblem: ${problem}\n\nSolution:\n`;
  for (const step of steps) out += `${renderStep(step)}\n${format.delimiter}\n`;
  return out;
}

/** The text a reward model scores: the prompt with `candidate` appended as the newest step. */
export function renderScoredText(
  problem: string,
  steps: readonly Step[],
  candidate: Step,
  format: PromptFormat = defaultPromptFormat,
): string {
  return `${renderPrompt(problem, steps, format)}${renderStep(candidate)}\n${format.delimiter}`;
}

/**
 * Parses a generated step: cut at the delimiter if the server did not, a leading `# ` line is the
 * text, the rest is the code (trailing blank lines dropped). Returns undefined for a blank completion.
 */
export function parseStep(completion: string, delimiter: string = defaultStepDelimiter): Step | undefined {
  const cut = delimiter.length > 0 ? completion.indexOf(delimiter) : -1;
  const body = (cut >= 0 ? completion.slice(0, cut) : completion).replace(/\r\n/g, "\n");
  const lines = body.split("\n");
  while (lines.length > 0 && lines[0]!.trim() === "") lines.shift();
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop();
  if (lines.length === 0) return undefined;
  const first = lines[0]!.trim();
  if (first.startsWith("#")) {
    return { text: first.replace(/^#+\s*/, "").trimEnd(), code: lines.slice(1).join("\n") };
  }
  return { text: "", code: lines.join("\n") };
}
