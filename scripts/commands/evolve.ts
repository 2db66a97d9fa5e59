/** `rstar evolve`: the self-evolution main job (rounds of search, training and evaluation). */
import { Command, CommanderError, Option } from "commander";
import { choiceOption, CommandFailed, ExitCode, intOption, writeLine } from "../cli.ts";
import { runEvolve } from "../../actors/coordinator.ts";
import { applySettings, type ConfigOverrides, configProblem, type EvolveConfig, PRESETS, type PresetName, resolveConfig } from "../run/config.ts";
import { openRunDirectory } from "../run/runDirectory.ts";
import { DatasetError, loadDataset } from "../../math/datasets.ts";
import { createLocalServices } from "../run/localServices.ts";
import { stopTraining } from "../run/trainStateFile.ts";
import { KILL_WORKER_NEEDS, type NatsOptions, runNameOf } from "../run/natsLink.ts";
import { stderrProgress } from "../run/progress.ts";
import { formatTable } from "../run/summary.ts";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { SearchFailed } from "../../actors/searchService.ts";
import { RemoteModelError } from "../../models/remoteHttp.ts";
import { Result } from "effect";
import { formatChaosSpec, parseChaosSpec } from "../../protocols/chaosBus.ts";

/** Options `rstar evolve` accepts. */
export interface EvolveFlags {
  readonly preset: PresetName;
  readonly run?: string;
  readonly resume?: boolean;
  readonly rounds?: number;
  readonly seed?: number;
  readonly nats?: string;
  readonly workers?: number;
  readonly dataset?: string;
  readonly test?: string;
  readonly policy?: "tiny" | "openai";
  readonly policyUrl?: string;
  readonly model?: string;
  readonly executor?: "builtin" | "python";
  readonly chaos?: string;
  readonly set?: string[];
  /** True when `--preset` was given (it has a default). */
  readonly presetGiven?: boolean;
}

/** Prints a one-line usage error and fails with exit code 2. */
export function usageError(message: string): never {
  console.error(`error: ${message}`);
  throw new CommanderError(ExitCode.usage, "rstar.usage", message);
}

/** The default run directory of a preset and seed. */
export function defaultRunDir(preset: string, seed: number): string {
  return join("runs", `evolve-${preset}-s${seed}`);
}

function checkFlags(f: EvolveFlags): void {
  if (f.policy === "openai" && (!f.policyUrl || !f.model)) {
    usageError("--policy openai needs --policy-url URL and --model NAME");
  }
  if ((f.policyUrl || f.model) && f.policy !== "openai") usageError("--policy-url and --model need --policy openai");
  if (f.resume && !f.run) usageError("--resume needs --run DIR");
  if (f.nats !== undefined && !/^(nats|tls|ws|wss):\/\/[^\s]+$/.test(f.nats)) {
    usageError(`--nats must be a URL like nats://127.0.0.1:4222, got "${f.nats}"`);
  }
  if (f.chaos !== undefined) {
    const spec = parseChaosSpec(f.chaos);
    if (Result.isFailure(spec)) usageError(`--chaos: ${spec.failure.message}`);
    if (spec.success.killWorkerEveryMs !== undefined && (f.nats === undefined || (f.workers ?? 0) < 1)) {
      usageError(`--chaos kill-worker: ${KILL_WORKER_NEEDS}`);
    }
  }
}

/**
 * Reads a `--dataset` or `--test` file whole before a run is made of it, so that a bad line, a
 * repeated id or an empty file is a one-line error and not a half-made run; returns its problems.
 */
async function checkDataset(flag: string, file: string): Promise<number> {
  let problems;
  try {
    problems = (await loadDataset(file)).problems;
  } catch (err) {
    if (err instanceof DatasetError) throw new CommandFailed(`${flag}: ${err.message}`);
    throw err;
  }
  if (problems.length === 0) throw new CommandFailed(`${flag}: ${file} holds no problems`);
  return problems.length;
}

/** Flags that make a new run's config; a resumed run keeps its config.json. */
const NEW_RUN_FLAGS = ["rounds", "seed", "dataset", "test", "executor"] as const;

/** Runs `rstar evolve` with parsed flags; returns the process exit code. */
export async function evolve(f: EvolveFlags): Promise<number> {
  checkFlags(f);
  if (f.resume) {
    const given = [...(f.presetGiven ? ["preset"] : []), ...NEW_RUN_FLAGS.filter((k) => f[k] !== undefined)];
    if (given.length > 0) {
      const named = given.map((k) => `--${k}`).join(", ");
      usageError(`${named} ${given.length === 1 ? "applies" : "apply"} to a new run; a resumed run keeps its config.json`);
    }
  }
  if ((f.workers ?? 0) > 0 && f.nats === undefined) usageError("--workers needs --nats URL");
  if (f.policy === "openai" && f.nats !== undefined) {
    usageError("--policy openai runs in one process: the remote server does the sampling; drop --nats");
  }
  const overrides: ConfigOverrides = {
    ...(f.seed !== undefined ? { seed: f.seed } : {}),
    ...(f.rounds !== undefined ? { rounds: f.rounds } : {}),
    ...(f.dataset !== undefined ? { dataset: resolve(f.dataset) } : {}),
    ...(f.test !== undefined ? { test: resolve(f.test) } : {}),
    ...(f.nats !== undefined ? { nats: f.nats, workers: f.workers ?? 0 } : {}),
    ...(f.executor !== undefined ? { executor: f.executor } : {}),
    ...(f.chaos !== undefined ? { chaos: f.chaos } : {}),
    ...(f.policy !== undefined ? { policy: f.policy } : {}),
    ...(f.policyUrl !== undefined ? { policyUrl: f.policyUrl } : {}),
    ...(f.model !== undefined ? { modelName: f.model } : {}),
  };
  let config = resolveConfig(f.preset, overrides);
  if (f.set !== undefined && f.set.length > 0) {
    if (f.resume) usageError("--set applies to a new run; a resumed run keeps its config.json");
    try {
      config = applySettings(config, f.set);
    } catch (err) {
      usageError(err instanceof Error ? err.message : String(err));
    }
  }
  const runDir = f.run ?? defaultRunDir(config.preset, config.seed);
  const progress = stderrProgress();
  if (!f.resume) {
    if (f.dataset !== undefined) await checkDataset("--dataset", f.dataset);
    if (f.test !== undefined) {
      const n = await checkDataset("--test", f.test);
      const used = config.test.problems;
      if (n > used) progress.event(`--test ${f.test}: evaluating its first ${used} of ${n} problems (--set test.problems=${n} for all)`);
    }
  }
  // A resume keeps the run's chaos spec unless --chaos replaces it; its kill-worker needs worker
  // processes, which a resume in one process has none of: it goes on without that fault.
  let resumeChaos = f.resume ? f.chaos : undefined;
  if (f.resume) {
    const dir = openRunDirectory<EvolveConfig>(runDir, configProblem);
    const recorded = dir._tag === "RunDirectory" ? dir.file.config : undefined;
    const started = recorded?.transport.nats;
    if (f.nats === undefined && started !== undefined) {
      progress.event(`${runDir} was started over NATS (${started}); this resume runs in one process, with the same results (--nats URL to spread it again)`);
    }
    const spec = f.chaos === undefined && recorded?.chaos !== undefined ? parseChaosSpec(recorded.chaos) : undefined;
    if (spec !== undefined && Result.isSuccess(spec) && spec.success.killWorkerEveryMs !== undefined && (f.workers ?? 0) === 0) {
      const { killWorkerEveryMs: _, ...rest } = spec.success;
      resumeChaos = formatChaosSpec(rest);
      progress.event(
        `the run's --chaos kills worker processes, and this resume has none: it goes on without kill-worker` +
          `${resumeChaos ? ` (with ${resumeChaos})` : ""} (--nats URL --workers N to keep it)`,
      );
    }
  }
  let nats: NatsOptions | undefined;
  if (f.nats !== undefined) {
    let run: string;
    try {
      run = runNameOf(resolve(runDir));
    } catch (err) {
      usageError(`--run ${runDir} cannot name a NATS run: ${err instanceof Error ? err.message : String(err)}`);
    }
    nats = { url: f.nats, run, workers: f.workers ?? 0, note: (line) => progress.event(line), dir: runDir };
  }
  const services = createLocalServices(nats ? { nats } : {});
  // Ctrl-C or a TERM stops the run where it is: the ledger and the checkpoints are written to
  // survive a SIGKILL at any moment, so the message only says how to go on; a training run in
  // progress first saves its state (stopTraining). With worker processes, the services' own
  // handler does that, stops them, and then exits.
  const onInterrupt = (sig: "SIGINT" | "SIGTERM") => () => {
    console.error(`\ninterrupted (${sig}): finished work is in ${runDir}; continue with: rstar evolve --resume --run ${runDir}`);
    if ((nats?.workers ?? 0) === 0) void stopTraining().finally(() => Deno.exit(sig === "SIGINT" ? 130 : 143));
  };
  const interrupts = (["SIGINT", "SIGTERM"] as const).map((sig) => ({ sig, fn: onInterrupt(sig) }));
  for (const h of interrupts) Deno.addSignalListener(h.sig, h.fn);
  try {
    // On resume, --policy-url names the server of the model trained on the exported data.
    const served = f.resume && f.policyUrl !== undefined && f.model !== undefined
      ? { served: { url: f.policyUrl, model: f.model } }
      : {};
    let r;
    try {
      const chaos = resumeChaos !== undefined ? { chaos: resumeChaos } : {};
      r = await runEvolve({ runDir, resume: f.resume === true, config, progress, ...served, ...chaos }, services);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("--policy-url")) throw new CommandFailed(err.message);
      if (err instanceof CommandFailed || !existsSync(join(runDir, "ledger.jsonl"))) throw err;
      // The run started and stopped mid-way: what it finished is in the ledger.
      const resume = `finished work is in ${runDir}; continue with: rstar evolve --resume --run ${runDir}`;
      if (err instanceof SearchFailed) throw new CommandFailed(`${err.message}\n${resume}`);
      if (err instanceof RemoteModelError) {
        throw new CommandFailed(`${err.message}\n${resume} (with --policy openai --policy-url URL --model NAME where the model is served now)`);
      }
      console.error(resume);
      throw err;
    }
    if (r._tag === "EvolveStopped") {
      await writeLine(`stopped after round ${r.round}: ${r.message}`);
      return ExitCode.ok;
    }
    if (r._tag !== "EvolveDone") throw new CommandFailed(r.message);
    if (r.alreadyFinished) progress.event(`run ${runDir} is already finished; summary:`);
    await writeLine(formatTable(r.summary));
    progress.event(`summary: ${join(runDir, "summary.json")}  report: ${join(runDir, "report.html")}`);
    return ExitCode.ok;
  } finally {
    for (const h of interrupts) Deno.removeSignalListener(h.sig, h.fn);
    await services.close();
  }
}

/** Builds the `evolve` subcommand. */
export function command(): Command {
  return new Command("evolve")
    .description("Run self-evolution: rounds of MCTS, policy SFT, PPM training and evaluation")
    .addOption(
      new Option("--preset <name>", "smoke (≤ 2 min), quick (default; 10–20 min on 2 cores, by their training speed) or full (about 70 min)")
        .argParser(choiceOption("--preset", PRESETS))
        .default("quick"),
    )
    .option("--run <dir>", "run directory (default runs/evolve-<preset>-s<seed>)")
    .option("--resume", "continue the run in --run from its ledger")
    .option("--rounds <n>", "number of rounds", intOption("--rounds", 1))
    .option("--seed <n>", "run seed", intOption("--seed", 0))
    .option("--nats <url>", "run the actors over NATS at this URL")
    .option("--workers <n>", "expander worker processes to spawn (with --nats; default 0: this process serves alone)", intOption("--workers", 0))
    .option("--dataset <file>", "JSONL training problems instead of generated ones")
    .option("--test <file>", "JSONL test problems instead of generated ones")
    .addOption(new Option("--policy <kind>", "tiny or openai").argParser(choiceOption("--policy", ["tiny", "openai"] as const)))
    .option("--policy-url <url>", "OpenAI-compatible server for --policy openai")
    .option("--model <name>", "model name for --policy openai")
    .addOption(
      new Option("--executor <kind>", "builtin or python").argParser(choiceOption("--executor", ["builtin", "python"] as const)),
    )
    .option(
      "--set <key=value>",
      "override one setting of the preset, e.g. sft.maxSeconds=300 (repeatable; see docs/RUN_DIRECTORY.md)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--chaos <spec>",
      "bus faults, actor crashes and worker kills for the search, e.g. drop=0.05,crash=expander:0.02,kill-worker=30s (docs/CHAOS.md); with --resume it replaces the run's (\"\" for none)",
    )
    .action(async (opts: EvolveFlags, cmd: Command) => {
      const code = await evolve({ ...opts, presetGiven: cmd.getOptionValueSource("preset") === "cli" });
      if (code !== ExitCode.ok) throw new CommandFailed(`evolve exited with ${code}`);
    });
}
