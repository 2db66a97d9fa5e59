/**
 * `rstar solve`: a run's latest models solve one problem with MCTS + PPM, in this process from
 * the run directory, or with `--nats URL` by a running system (`.control.solve` to its searcher).
 */
import { Command } from "commander";
import { Result } from "effect";
import { call } from "../../protocols/codec.ts";
import { MAX_ROLLOUTS, PROTOCOL_VERSION, SolveReply, SolveRequest } from "../../protocols/messages.ts";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import { CommandFailed, intOption, writeLine } from "../cli.ts";
import { createLocalServices } from "../run/localServices.ts";
import { runNameOf } from "../run/natsLink.ts";
import { roundModels } from "../run/runModels.ts";
import { pathIds, q, stats } from "../../search/SearchTree.ts";
import { solveProblem } from "../run/solver.ts";
import { refVersion } from "../../actors/coordinator.ts";
import { defaultRunDir } from "./evolve.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { ThreadedPolicy } from "../../models/parallelPropose.ts";

/** What `rstar solve --json` prints. */
export interface SolveOutput {
  readonly problem: string;
  readonly answer?: string;
  readonly steps: { readonly text: string; readonly code: string; readonly output: string; readonly q: number; readonly n: number }[];
  readonly tree: { readonly nodes: number; readonly rollouts: number; readonly maxDepth: number; readonly answers: Record<string, number> };
  readonly models: { readonly round: number; readonly policy: string; readonly scorer: string };
  /** What limits the answer to this text (no digits, a problem longer than the policy reads). */
  readonly notes: readonly string[];
}

const NO_DIGITS = "the problem has no numbers written as digits; the models only read digits, so this is a best effort";

/** Notes on what the models make of `problem` (`policy` when it is a trained one). */
export function solveNotes(problem: string, policy?: TinyPolicy): string[] {
  const notes = /\d/.test(problem) ? [] : [NO_DIGITS];
  const fit = policy?.promptFit(problem);
  if (fit !== undefined && fit.tokens > fit.room) {
    notes.push(`the problem is ${fit.tokens} tokens long and the policy reads at most ${fit.room} (problem and steps), so it reads only the end of it`);
  }
  return notes;
}

/** What `rstar solve --nats --json` prints: the running system's answer, steps and model versions. */
export interface RemoteSolveOutput {
  readonly problem: string;
  /** The NATS run name that answered. */
  readonly run: string;
  readonly answer?: string;
  readonly steps: { readonly text: string; readonly code: string; readonly output: string }[];
  /** The PPM value of the last step, when the system scores with a PPM. */
  readonly value?: number;
  /** Model versions the system used, by name (`policy`, `ppm`). */
  readonly models: Record<string, string>;
}

/** Where and how to ask a running system. */
export interface RemoteSolveOptions {
  readonly url: string;
  /** The run name (a run directory's last path segment, as `rstar evolve --nats` names it). */
  readonly run: string;
  /** Rollouts for this problem (default: the system's setting). */
  readonly rollouts?: number;
  /** How long to wait for the answer (default 60 s). */
  readonly timeoutMs?: number;
}

/** Sends `text` to the run's searcher as a `.control.solve` request and returns its answer. */
export async function solveOverNats(text: string, o: RemoteSolveOptions): Promise<RemoteSolveOutput> {
  if (text.trim().length === 0) throw new CommandFailed("Cannot solve an empty problem: give the problem text");
  const timeoutMs = o.timeoutMs ?? 60_000;
  const subject = runSubjects(o.run).control("solve");
  const bus = await connectNatsBus(o.url, { name: "rstar-solve", log: () => {}, maxReconnectAttempts: 0 }).catch((err) => {
    throw new CommandFailed(`Cannot connect to NATS at ${o.url}: ${err instanceof Error ? err.message : String(err)}`);
  });
  try {
    const req: SolveRequest = {
      v: PROTOCOL_VERSION,
      id: `solve-${Deno.pid}-${Date.now()}`,
      problem: text,
      ...(o.rollouts === undefined ? {} : { rollouts: o.rollouts }),
    };
    // No retries: a solve is a whole search, and a repeat would start another one.
    const rep = await call(bus, subject, SolveRequest, SolveReply, req, { timeoutMs, retries: 0 });
    if (Result.isFailure(rep)) {
      const err = rep.failure;
      if (err._tag === "BusError" && err.reason === "NoResponders") {
        throw new CommandFailed(
          `Cannot solve over NATS: nothing answers ${subject} at ${o.url}; start the run's searcher (rstar evolve --nats ${o.url}) or check --run ${o.run}`,
        );
      }
      if (err._tag === "BusError" && err.reason === "Timeout") {
        throw new CommandFailed(
          `Cannot solve over NATS: run ${o.run} did not answer within ${timeoutMs} ms; raise --timeout-ms or lower --rollouts`,
        );
      }
      throw new CommandFailed(`Cannot solve over NATS: run ${o.run} answered with an error: ${err.message}`);
    }
    const r = rep.success;
    return {
      problem: text,
      run: o.run,
      ...(r.answer === "" ? {} : { answer: r.answer }),
      steps: r.steps.map((st, i) => ({ text: st.text, code: st.code, output: r.outputs?.[i] ?? "" })),
      ...(r.value === undefined ? {} : { value: r.value }),
      models: { ...r.versions },
    };
  } finally {
    await bus.close();
  }
}

/** Solves `text` with the models of the run at `runDir`. */
export async function solve(text: string, runDir: string, seed = 0, rollouts?: number): Promise<SolveOutput> {
  if (text.trim().length === 0) throw new CommandFailed("Cannot solve an empty problem: give the problem text");
  const models = roundModels(runDir);
  if (models._tag !== "RoundModels") throw new CommandFailed(models.message);
  const config = models.dir.file.config;
  const services = createLocalServices();
  try {
    await services.start(config);
    const loaded = await services.models(models.policy, models.scorer);
    const { tree, answer, best } = await solveProblem(text, loaded, services.executor(config), config, {
      seed,
      ...(rollouts === undefined ? {} : { rollouts }),
    });
    const answers: Record<string, number> = {};
    for (const n of tree.nodes) {
      if (n.terminal && n.answer !== undefined && n.error === undefined) answers[n.answer] = (answers[n.answer] ?? 0) + 1;
    }
    const st = stats(tree);
    const p = loaded.proposer;
    const tiny = p instanceof TinyPolicy ? p : p instanceof ThreadedPolicy ? p.policy : undefined;
    return {
      problem: text,
      notes: solveNotes(text, tiny),
      ...(answer !== undefined ? { answer } : {}),
      steps: best === undefined ? [] : pathIds(tree, best.id).map((id) => {
        const n = tree.nodes[id]!;
        return { text: n.step.text, code: n.step.code, output: n.stdout.trimEnd(), q: q(n), n: n.N };
      }),
      tree: { nodes: st.nodes, rollouts: st.rolloutsDone, maxDepth: st.maxDepth, answers },
      models: { round: models.round, policy: refVersion(models.policy), scorer: models.scorer === undefined ? "" : refVersion(models.scorer) },
    };
  } finally {
    await services.close();
  }
}

interface SolveFlags {
  run?: string;
  json?: boolean;
  nats?: string;
  rollouts?: number;
  timeoutMs: number;
}

/** Builds the `solve` subcommand. */
export function command(): Command {
  const cmd: Command = new Command("solve")
    .description("Solve one problem with a run's latest policy and PPM (MCTS + PPM), here or by a running system over NATS")
    .argument("<problem>", "the problem text")
    .option("--run <dir>", "run directory (default runs/evolve-quick-s1); with --nats, the run name (its last path segment)")
    .option("--nats <url>", "ask the run's running searcher over NATS instead of loading its models here")
    .option("--rollouts <n>", "rollouts for this problem (default: the run's setting)", intOption("--rollouts", 1, MAX_ROLLOUTS))
    .option("--timeout-ms <n>", "with --nats, how long to wait for the answer", intOption("--timeout-ms", 1), 60_000)
    .option("--json", "print one JSON object (answer: null when no rollout printed one; exit code 0 either way)")
    .action(async (problem: string, opts: SolveFlags) => {
      if (opts.nats !== undefined) {
        const usage = (message: string): never => cmd.error(`error: ${message}`, { exitCode: 2, code: "rstar.solve.usage" });
        if (!/^(nats|tls|ws|wss):\/\/[^\s]+$/.test(opts.nats)) usage(`--nats must be a URL like nats://127.0.0.1:4222, got "${opts.nats}"`);
        let run = "";
        try {
          run = runNameOf(opts.run ?? defaultRunDir("quick", 1));
        } catch (err) {
          usage(err instanceof Error ? err.message : String(err));
        }
        const out = await solveOverNats(problem, {
          url: opts.nats,
          run,
          timeoutMs: opts.timeoutMs,
          ...(opts.rollouts === undefined ? {} : { rollouts: opts.rollouts }),
        });
        if (opts.json) {
          await writeLine(JSON.stringify({ ...out, answer: out.answer ?? null, notes: solveNotes(problem) }));
          return;
        }
        await printSteps(solveNotes(problem), out.steps);
        await writeLine(out.answer !== undefined ? `answer: ${out.answer}` : "answer: none (no rollout printed an answer)");
        const models = Object.entries(out.models).map(([k, v]) => `${k} ${v}`).join(", ");
        await writeLine(`run ${out.run}${out.value === undefined ? "" : `; value ${out.value.toFixed(2)}`}; models ${models || "-"}`);
        if (out.answer === undefined) throw new CommandFailed("Cannot solve the problem: no rollout reached an answer");
        return;
      }
      const out = await solve(problem, opts.run ?? defaultRunDir("quick", 1), 0, opts.rollouts);
      if (opts.json) {
        await writeLine(JSON.stringify({ ...out, answer: out.answer ?? null }));
        return;
      }
      await printSteps(out.notes, out.steps);
      await writeLine(out.answer !== undefined ? `answer: ${out.answer}` : "answer: none (no rollout printed an answer)");
      const votes = Object.entries(out.tree.answers).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([a, n]) => `${a}×${n}`).join(", ");
      await writeLine(`tree: ${out.tree.nodes} nodes, ${out.tree.rollouts} rollouts, depth ${out.tree.maxDepth}; answers ${votes || "-"}; models round ${out.models.round} (${out.models.policy}, ${out.models.scorer})`);
      if (out.answer === undefined) throw new CommandFailed("Cannot solve the problem: no rollout reached an answer");
    });
  return cmd;
}

/** Prints the notes, then the steps of a solution: comment, code, output (and Q, N when known). */
async function printSteps(
  notes: readonly string[],
  steps: readonly { text: string; code: string; output: string; q?: number; n?: number }[],
): Promise<void> {
  for (const note of notes) await writeLine(`note: ${note}`);
  for (const [i, s] of steps.entries()) {
    await writeLine(`step ${i + 1}: # ${s.text}`);
    if (s.code) await writeLine(`        ${s.code}`);
    if (s.output) await writeLine(`        -> ${s.output}`);
    if (s.q !== undefined && s.n !== undefined) await writeLine(`        Q=${s.q.toFixed(2)} N=${s.n}`);
  }
}
