/** `rstar exec`. */
import { Command } from "commander";
import { CommandFailed } from "../cli.ts";

/** Builds the `exec` subcommand. */
export function command(): Command {
  return new Command("exec")
    .description("(exec: not built yet)")
    .action(() => {
      throw new CommandFailed("exec is not built yet");
    });
}
