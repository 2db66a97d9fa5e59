/** `rstar exec`: runs step-language code from JSONL on stdin, one result per line, in order. */
import { Command } from "commander";
import { choiceOption, CommandFailed, stdinLines, writeLine } from "../cli.ts";
import type { ExecResult, Step, StepExecutor } from "../../math/contracts.ts";
import { PYTHON_PRELUDE, SafeExecutor } from "../../math/interpreter.ts";
import { PythonExecutor } from "../../math/pythonExecutor.ts";

/** Reads one input line: `{"code"}` with an optional `"prefix"` of earlier steps' code. */
function parseInput(line: string, n: number): { prefix: Step[]; step: Step } | ExecResult {
  const bad = (why: string): ExecResult => ({
    ok: false,
    stdout: "",
    error: { kind: "SyntaxError", message: `Cannot read input line ${n}: ${why}`, line: 0 },
  });
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch (e) {
    return bad(`invalid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof rec !== "object" || rec === null || Array.isArray(rec)) return bad("expected a JSON object");
  const r = rec as Record<string, unknown>;
  if (typeof r.code !== "string") return bad('expected "code" to be a string');
  const prefix: Step[] = [];
  if (r.prefix !== undefined) {
    if (!Array.isArray(r.prefix) || !r.prefix.every((c) => typeof c === "string")) return bad('expected "prefix" to be an array of code strings');
    for (const c of r.prefix as string[]) prefix.push({ text: "", code: c });
  }
  return { prefix, step: { text: "", code: r.code } };
}

/** Builds the `exec` subcommand. */
export function command(): Command {
  return new Command("exec")
    .description('run code from JSONL {"code", "prefix"?} on stdin; writes {"ok","stdout","error"?} per line, in order (blank lines are skipped)')
    .option("--executor <e>", "builtin|python (python needs python3)", choiceOption("--executor", ["builtin", "python"] as const), "builtin")
    .action(async (opts: { executor: "builtin" | "python" }) => {
      const python = opts.executor === "python";
      const executor: StepExecutor = python ? new PythonExecutor() : new SafeExecutor();
      const prelude: Step[] = python ? [{ text: "step-language built-ins", code: PYTHON_PRELUDE }] : [];
      const why = executor instanceof PythonExecutor ? await executor.unavailable() : undefined;
      if (why !== undefined) throw new CommandFailed(`Cannot use --executor python: ${why}`);
      try {
        let n = 0;
        for await (const line of stdinLines()) {
          n++;
          if (line.trim() === "") continue;
          const input = parseInput(line, n);
          const result = "step" in input ? await executor.runStep([...prelude, ...input.prefix], input.step) : input;
          const out: Record<string, unknown> = { ok: result.ok, stdout: result.stdout };
          if (result.error) out.error = result.error;
          await writeLine(JSON.stringify(out));
        }
      } finally {
        await executor.close?.();
      }
    });
}
