/** `rstar solve`. */
import { Command } from "commander";
import { CommandFailed } from "../cli.ts";

/** Builds the `solve` subcommand. */
export function command(): Command {
  return new Command("solve")
    .description("(solve: not built yet)")
    .action(() => {
      throw new CommandFailed("solve is not built yet");
    });
}
