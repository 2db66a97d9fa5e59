/** `rstar worker`. */
import { Command } from "commander";
import { CommandFailed } from "../cli.ts";

/** Builds the `worker` subcommand. */
export function command(): Command {
  return new Command("worker")
    .description("(worker: not built yet)")
    .action(() => {
      throw new CommandFailed("worker is not built yet");
    });
}
