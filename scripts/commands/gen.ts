/** `rstar gen`. */
import { Command } from "commander";
import { CommandFailed } from "../cli.ts";

/** Builds the `gen` subcommand. */
export function command(): Command {
  return new Command("gen")
    .description("(gen: not built yet)")
    .action(() => {
      throw new CommandFailed("gen is not built yet");
    });
}
