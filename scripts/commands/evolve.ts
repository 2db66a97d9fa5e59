/** `rstar evolve`. */
import { Command } from "commander";
import { CommandFailed } from "../cli.ts";

/** Builds the `evolve` subcommand. */
export function command(): Command {
  return new Command("evolve")
    .description("(evolve: not built yet)")
    .action(() => {
      throw new CommandFailed("evolve is not built yet");
    });
}
