/**
 * `rstar status --run DIR [--json]`: where a run stands, from its directory alone (ledger and
 * training states; nothing is written): the per-round table so far, the round in progress (search
 * and retry problems recorded, each training run's last saved step, each strategy's evaluated
 * test problems) and how to continue. Safe while another process runs the run, or after a crash.
 */
import { Command } from "commander";
import { CommandFailed, writeLine } from "../cli.ts";
import { configProblem, type EvolveConfig } from "../run/config.ts";
import { readLedger } from "../run/ledger.ts";
import { createLocalServices } from "../run/localServices.ts";
import { openRunDirectory } from "../run/runDirectory.ts";
import { formatRoundStatus, type RunStatus, runStatus } from "../run/status.ts";
import { formatTable } from "../run/summary.ts";
import { formatKnobs } from "../../actors/controlState.ts";

/** Reads the status of the run at `runDir`; a missing or unreadable run is a CommandFailed. */
export async function statusOf(runDir: string): Promise<RunStatus> {
  const dir = openRunDirectory<EvolveConfig>(runDir, configProblem);
  if (dir._tag !== "RunDirectory") throw new CommandFailed(dir.message);
  const read = readLedger(dir.paths.ledger);
  if (read._tag !== "LedgerRead") throw new CommandFailed(read.message);
  const config = dir.file.config;
  const services = createLocalServices();
  try {
    const expected: string[][] = [];
    for (let r = 1; r <= config.rounds; r++) {
      expected.push((await services.trainProblems(config, r)).map((p) => p.id));
    }
    const test = (await services.testProblems(config)).map((p) => p.id);
    return runStatus(dir.paths, config, read.events, expected, test);
  } finally {
    await services.close();
  }
}

/** Builds the `status` subcommand. */
export function command(): Command {
  return new Command("status")
    .description(
      "Show where a run stands (also after a crash, or while it runs): rounds so far, the round in progress, how to continue",
    )
    .requiredOption("--run <dir>", "run directory")
    .option("--json", "one JSON object")
    .action(async (opts: { run: string; json?: boolean }) => {
      const s = await statusOf(opts.run);
      if (opts.json) return await writeLine(JSON.stringify(s));
      const rounds = `${s.rounds} round${s.rounds === 1 ? "" : "s"}`;
      const running = s.running && `running in process ${s.running.pid} on ${s.running.host} since ${s.running.since}`;
      await writeLine(
        `run ${s.run}: ${s.preset} preset, seed ${s.seed}, ${rounds}; ${s.finished ? "finished" : running ?? "not finished"}`,
      );
      if (s.summary.rounds.length > 0) await writeLine(formatTable(s.summary));
      if (s.current) await writeLine(formatRoundStatus(s.current));
      if (s.knobs) await writeLine(`knobs set while it ran: ${formatKnobs(s.knobs)}${s.finished ? "" : " (a resume sets them again)"}`);
      // Also when every round is done but the run's end is not recorded (killed as it finished).
      if (s.finished || s.running) return;
      if (s.waitsForModel === undefined) return await writeLine(`continue with: rstar evolve --resume --run ${s.run}`);
      await writeLine(
        `round ${s.waitsForModel}'s training data is exported; fine-tune and serve the policy on it, then continue with: ` +
          `rstar evolve --resume --run ${s.run} --policy openai --policy-url NEW_URL --model NAME`,
      );
    });
}
