/** `rstar eval`. */
import { Command } from "commander";
import { CommandFailed } from "../cli.ts";

/** Builds the `eval` subcommand. */
export function command(): Command {
  return new Command("eval")
    .description("(eval: not built yet)")
    .action(() => {
      throw new CommandFailed("eval is not built yet");
    });
}
