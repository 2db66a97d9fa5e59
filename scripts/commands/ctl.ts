/** `rstar ctl`. */
import { Command } from "commander";
import { CommandFailed } from "../cli.ts";

/** Builds the `ctl` subcommand. */
export function command(): Command {
  return new Command("ctl")
    .description("(ctl: not built yet)")
    .action(() => {
      throw new CommandFailed("ctl is not built yet");
    });
}
