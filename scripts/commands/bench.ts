/**
 * `rstar bench [--quick] [--only PREFIX] [--json]`: runs the benchmark areas, prints one JSON
 * line per figure as it arrives, then a readable table (unless `--json`). Missed targets are
 * reported, not failed; an area that cannot run makes the command exit 1 after the others ran.
 */
import { Command } from "commander";
import { CommandFailed, writeLine } from "../cli.ts";
import { areaSelected, benchAreas, formatFigureLine, formatTable, runBench } from "../bench/index.ts";

/** Builds the `bench` subcommand. */
export function command(): Command {
  return new Command("bench")
    .description("measure performance figures and check them against their targets (JSON lines)")
    .option("--quick", "short runs: the whole bench in under 2 minutes", false)
    .option("--only <prefix>", "only figures whose name starts with PREFIX (e.g. search, policy.gen)")
    .option("--json", "JSON lines only, no table at the end", false)
    .action(async (opts: { quick: boolean; only?: string; json: boolean }) => {
      // A prefix no area can produce is an error before anything runs (and before a table header).
      if (!benchAreas.some((a) => areaSelected(a, opts.only))) {
        throw new CommandFailed(`Cannot find figures to run: none match --only ${JSON.stringify(opts.only)}`);
      }
      const figures = await runBench({
        quick: opts.quick,
        only: opts.only,
        onFigure: (fig) => writeLine(formatFigureLine(fig)),
      });
      if (!opts.json) await writeLine(`\n${formatTable(figures)}`);
      const errors = figures.filter((f) => f.unit === "error");
      if (errors.length > 0) {
        throw new CommandFailed(`Cannot run every bench area: ${errors.map((e) => e.name.slice(6)).join(", ")} failed`);
      }
      if (figures.length === 0) {
        throw new CommandFailed(`Cannot find figures to run: none match --only ${JSON.stringify(opts.only)}`);
      }
    });
}
