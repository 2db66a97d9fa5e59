/** `rstar bench`. */
import { Command } from "commander";
import { CommandFailed } from "../cli.ts";

/** Builds the `bench` subcommand. */
export function command(): Command {
  return new Command("bench")
    .description("(bench: not built yet)")
    .action(() => {
      throw new CommandFailed("bench is not built yet");
    });
}
