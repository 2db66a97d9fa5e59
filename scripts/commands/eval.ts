/** `rstar eval`: evaluate a run's models on the held-out test split. */
import { Command, Option } from "commander";
import { choiceOption, CommandFailed, intOption, writeLine } from "../cli.ts";
import { evalRequest } from "../../actors/coordinator.ts";
import { needsScorer, STRATEGIES, type Strategy } from "../run/config.ts";
import { createLocalServices } from "../run/localServices.ts";
import { stderrProgress } from "../run/progress.ts";
import { roundModels } from "../run/runModels.ts";

/** One strategy's result as `rstar eval --json` prints it (one JSON line per strategy). */
export interface EvalLine {
  readonly round: number;
  readonly strategy: Strategy;
  readonly split: "test";
  readonly accuracy: number;
  readonly correct: number;
  readonly n: number;
  readonly samples: number;
  readonly byLevel: Record<string, { n: number; correct: number; rate: number }>;
  readonly versions: { readonly policy: string; readonly scorer?: string };
}

/** Evaluates round `round` (default latest) of the run at `runDir` with the given strategies. */
export async function evaluateRun(runDir: string, asked: readonly Strategy[] | undefined, round?: number): Promise<EvalLine[]> {
  const models = roundModels(runDir, round);
  if (models._tag !== "RoundModels") throw new CommandFailed(models.message);
  // A remote policy's run has no PPM: all strategies means those without one.
  const strategies = asked ?? STRATEGIES.filter((s) => models.scorer !== undefined || !needsScorer(s));
  const missing = strategies.find((s) => needsScorer(s) && models.scorer === undefined);
  if (missing !== undefined) throw new CommandFailed(`Cannot evaluate ${missing} on ${runDir}: its policy is remote and the run trains no PPM`);
  const config = models.dir.file.config;
  const services = createLocalServices();
  const progress = stderrProgress();
  try {
    await services.start(config);
    const test = await services.testProblems(config);
    const blind = test.map((p) => ({ ...p, answer: "", solution: undefined }));
    const out: EvalLine[] = [];
    for (const strategy of strategies) {
      const r = await services.evaluate(evalRequest(config, models.round, strategy, blind, models.policy, models.scorer), { progress });
      const byLevel: Record<string, { n: number; correct: number; rate: number }> = {};
      let correct = 0;
      for (const p of test) {
        const pred = r.answers.get(p.id);
        const ok = pred !== undefined && services.answersEqual(pred, p.answer);
        const t = byLevel[String(p.level)] ?? { n: 0, correct: 0, rate: 0 };
        t.n++;
        if (ok) {
          t.correct++;
          correct++;
        }
        t.rate = t.correct / t.n;
        byLevel[String(p.level)] = t;
      }
      out.push({
        round: models.round,
        strategy,
        split: "test",
        accuracy: test.length ? correct / test.length : 0,
        correct,
        n: test.length,
        samples: r.samples,
        byLevel,
        versions: r.versions,
      });
    }
    return out;
  } finally {
    await services.close();
  }
}

/** Builds the `eval` subcommand. */
export function command(): Command {
  return new Command("eval")
    .description("Evaluate a run's models on the held-out test split (no references visible to the search)")
    .requiredOption("--run <dir>", "run directory")
    .option("--round <k>", "round whose models to evaluate (default: latest trained)", intOption("--round", 1))
    .addOption(new Option("--strategy <name>", "greedy|bon-vote|bon-ppm|mcts (default: all)").argParser(choiceOption("--strategy", STRATEGIES)))
    .addOption(new Option("--split <name>", "split to evaluate").argParser(choiceOption("--split", ["test"] as const)).default("test"))
    .option("--json", "one JSON object per strategy")
    .action(async (opts: { run: string; round?: number; strategy?: Strategy; json?: boolean }) => {
      const lines = await evaluateRun(opts.run, opts.strategy ? [opts.strategy] : undefined, opts.round);
      for (const l of lines) {
        if (opts.json) await writeLine(JSON.stringify(l));
        else {
          const levels = Object.entries(l.byLevel).map(([k, t]) => `L${k} ${(100 * t.rate).toFixed(0)}%`).join(" ");
          await writeLine(`round ${l.round} ${l.strategy.padEnd(8)} ${(100 * l.accuracy).toFixed(1)}% (${l.correct}/${l.n}) step samples/problem ${l.samples.toFixed(1)}  ${levels}`);
        }
      }
    });
}
