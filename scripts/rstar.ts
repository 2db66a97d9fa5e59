/**
 * The `rstar` command line: one entry, ten subcommands. Each subcommand lives in
 * `scripts/commands/<name>.ts` and exports a `command()` that builds its commander `Command`.
 *
 * Usage errors (unknown command or flag, bad value) print one line and exit 2.
 */
import { Command, CommanderError } from "commander";
import { CommandFailed, ExitCode } from "./cli.ts";
import { DatasetError } from "../math/datasets.ts";
import { CheckpointError } from "../models/checkpoint.ts";
import * as evolve from "./commands/evolve.ts";
import * as solve from "./commands/solve.ts";
import * as evalCmd from "./commands/eval.ts";
import * as gen from "./commands/gen.ts";
import * as grade from "./commands/grade.ts";
import * as exec from "./commands/exec.ts";
import * as worker from "./commands/worker.ts";
import * as ctl from "./commands/ctl.ts";
import * as bench from "./commands/bench.ts";
import * as status from "./commands/status.ts";

/** Builds the whole program (exported so tests can drive it without a process). */
export function buildProgram(): Command {
  const program = new Command("rstar")
    .description("rStar-TS: a self-evolving math reasoner (policy + MCTS + process preference model)")
    .version("0.1.0")
    .showHelpAfterError(false)
    .exitOverride();
  for (const mod of [evolve, solve, evalCmd, status, gen, grade, exec, worker, ctl, bench]) {
    const cmd = mod.command();
    cmd.exitOverride();
    program.addCommand(cmd);
  }
  return program;
}

/** Runs the CLI with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const program = buildProgram();
  // commander answers `help NAME` for an unknown NAME with the program's help and exit 0.
  if (args[0] === "help" && args[1] !== undefined && !program.commands.some((c) => c.name() === args[1])) {
    console.error(`error: unknown command '${args[1]}'`);
    return ExitCode.usage;
  }
  try {
    await program.parseAsync(args, { from: "user" });
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" || err.code === "commander.version" ||
        err.code === "commander.help"
      ) return ExitCode.ok;
      // commander already printed its one-line reason to stderr.
      return ExitCode.usage;
    }
    // The reader of stdout went away (`rstar gen | head`): stop quietly, as a pipe's writer does.
    if (err instanceof Deno.errors.BrokenPipe) return ExitCode.ok;
    if (err instanceof CommandFailed || err instanceof DatasetError || err instanceof CheckpointError) {
      console.error(`rstar: ${err.message}`);
      return ExitCode.failed;
    }
    console.error(`rstar: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return ExitCode.failed;
  }
}

if (import.meta.main) {
  // `npm run rstar` and `deno task rstar` run in the project's folder; the paths on the command
  // line are relative to the folder they were typed in, which both name in INIT_CWD.
  const typedIn = Deno.env.get("INIT_CWD");
  if (Deno.env.get("RSTAR_TASK") === "1" && typedIn) Deno.chdir(typedIn);
  const code = await main(Deno.args);
  Deno.exit(code);
}
