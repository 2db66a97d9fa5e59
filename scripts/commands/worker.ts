/**
 * `rstar worker --role expander|scorer --nats URL [--run NAME]`: joins a run over NATS, loads the
 * latest published weights from the run's object store, serves until SIGINT/SIGTERM (or, with
 * `--exit-with-parent`, until the process that started it exits), then drains in-flight work and
 * exits 0. Logs are JSON lines on stderr.
 *
 * Test hook: `RSTAR_TEST_POLICY=scripted` serves the scripted policy and constant scorer
 * (actors/scriptedPolicy.ts) instead of published weights, so tests get repeatable searches.
 */
import { Command, InvalidArgumentError } from "commander";
import { SafeExecutor } from "../../math/interpreter.ts";
import { answersEqual } from "../../math/grade.ts";
import { connectNatsBus, natsBlobStore } from "../../protocols/natsBus.ts";
import { validateRunName } from "../../protocols/subjects.ts";
import { createLogger } from "../../actors/log.ts";
import { startSystem } from "../../actors/system.ts";
import { loadWorkerModels, scriptedRequested } from "../../actors/workerModels.ts";
import { choiceOption, CommandFailed, intOption } from "../cli.ts";
import { runNameHolder } from "../run/runClaim.ts";

/** Options of `rstar worker`. */
interface WorkerOptions {
  role: "expander" | "scorer";
  nats: string;
  run: string;
  maxBatch: number;
  maxWaitMs: number;
  id?: string;
  exitWithParent?: boolean;
}

/** How often a worker started with `--exit-with-parent` looks whether its parent is still there. */
const PARENT_POLL_MS = 500;

/** Parses a run name option. */
export function runOption(value: string): string {
  const bad = validateRunName(value);
  if (bad !== undefined) throw new InvalidArgumentError(bad.message);
  return value;
}

/** Builds the `worker` subcommand. */
export function command(): Command {
  return new Command("worker")
    .description("join a running system over NATS as an expander or scorer; Ctrl-C drains and exits")
    .requiredOption("--role <role>", "expander|scorer", choiceOption("--role", ["expander", "scorer"] as const))
    .requiredOption("--nats <url>", "NATS server URL, e.g. nats://127.0.0.1:4222")
    .requiredOption("--run <name>", "the run's name, the last segment of its evolve --run DIR (subjects rstar.<run>.*)", runOption)
    .option("--max-batch <n>", "largest expansion batch", intOption("--max-batch", 1), 64)
    .option("--max-wait-ms <n>", "longest wait to fill a batch", intOption("--max-wait-ms", 0), 5)
    .option("--id <id>", "worker id in logs and replies (default role-pid)")
    .option(
      "--exit-with-parent",
      "drain and exit when the process that started this one exits (rstar evolve --workers starts its workers so: none outlives a crash)",
    )
    .action(async (opts: WorkerOptions) => {
      await runWorker(opts);
    });
}

async function runWorker(opts: WorkerOptions): Promise<void> {
  const id = opts.id ?? `${opts.role}-${Deno.pid}`;
  const log = createLogger({ fields: { actor: opts.role, run: opts.run, worker: id } });
  let bus;
  try {
    bus = await connectNatsBus(opts.nats, { name: `rstar-${id}`, log: (e) => log.info(String(e.msg ?? "nats"), e) });
  } catch (err) {
    throw new CommandFailed(`Cannot connect to NATS at ${opts.nats}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const blobs = await natsBlobStore(bus.nc, `rstar-${opts.run}`);
  const models = await loadWorkerModels(blobs, scriptedRequested((n) => Deno.env.get(n)));
  const system = startSystem({
    bus,
    blobs,
    run: opts.run,
    roles: [opts.role],
    policy: models.policy,
    scorer: models.scorer,
    executor: new SafeExecutor(),
    log,
    grade: answersEqual,
    loadPolicy: models.loadPolicy,
    loadScorer: models.loadScorer,
    maxBatch: opts.maxBatch,
    maxWaitMs: opts.maxWaitMs,
    id,
    serveControl: false,
  });
  await bus.flush();
  const stopSignal = new Promise<string>((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => resolve(sig));
  });
  log.info("Worker ready", { role: opts.role, policy: models.policy.version, scorer: models.scorer?.version ?? "none" });
  // A worker serves whatever run of that name asks; say so when none is running (a typo, say).
  if ((await runNameHolder(bus.nc, opts.run)) === undefined) {
    log.warn(`No run named ${opts.run} is running on this server now; this worker serves it once one starts (rstar evolve --nats URL with a --run folder named ${opts.run})`);
  }
  const stops = [stopSignal, system.done.then((f) => f)];
  if (opts.exitWithParent) stops.push(parentExit());
  const outcome = await Promise.race(stops);
  if (typeof outcome === "string") {
    log.info("Draining", { reason: outcome });
    await system.stop();
    await bus.drain();
    log.info("Worker stopped");
    return;
  }
  await bus.close();
  if (outcome !== undefined) throw new CommandFailed(outcome.message);
}

/**
 * Resolves once the process that started this one has exited (this one is then re-parented, so
 * its parent pid changes). The check does not keep the process alive.
 */
function parentExit(): Promise<string> {
  const parent = Deno.ppid;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (Deno.ppid === parent) return;
      clearInterval(timer);
      resolve(`parent process ${parent} exited`);
    }, PARENT_POLL_MS);
    Deno.unrefTimer(timer);
  });
}
