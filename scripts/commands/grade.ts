/** `rstar grade`. */
import { Command } from "commander";
import { CommandFailed } from "../cli.ts";

/** Builds the `grade` subcommand. */
export function command(): Command {
  return new Command("grade")
    .description("(grade: not built yet)")
    .action(() => {
      throw new CommandFailed("grade is not built yet");
    });
}
