/** `rstar solve`: a run's latest models solve one problem with MCTS + PPM. */
import { Command } from "commander";
import { CommandFailed, writeLine } from "../cli.ts";
import { createLocalServices } from "../run/localServices.ts";
import { roundModels } from "../run/runModels.ts";
import { pathIds, q, stats } from "../../search/SearchTree.ts";
import { chooseAnswer } from "../../search/extract.ts";
import { answersEqual } from "../../math/grade.ts";
import { runMcts } from "../../search/strategies.ts";
import { defaultRunDir } from "./evolve.ts";

/** What `rstar solve --json` prints. */
export interface SolveOutput {
  readonly problem: string;
  readonly answer?: string;
  readonly steps: { readonly text: string; readonly code: string; readonly output: string; readonly q: number; readonly n: number }[];
  readonly tree: { readonly nodes: number; readonly rollouts: number; readonly maxDepth: number; readonly answers: Record<string, number> };
  readonly models: { readonly round: number; readonly policy: string; readonly scorer: string };
}

/** Solves `text` with the models of the run at `runDir`. */
export async function solve(text: string, runDir: string, seed = 0): Promise<SolveOutput> {
  if (text.trim().length === 0) throw new CommandFailed("Cannot solve an empty problem: give the problem text");
  const models = roundModels(runDir);
  if (models._tag !== "RoundModels") throw new CommandFailed(models.message);
  const config = models.dir.file.config;
  const services = createLocalServices();
  try {
    await services.start(config);
    const { proposer, scorer } = await services.models(models.policy, models.scorer);
    const result = await runMcts(
      { id: "solve", problem: text },
      { proposer, executor: services.executor(config), ...(scorer ? { scorer } : {}), answersEqual },
      { rollouts: config.search.policy.rollouts, k: config.eval.k, maxDepth: config.search.policy.maxDepth, ppmSeed: scorer !== undefined },
      seed,
      { temperature: config.eval.temperature, choose: "q", usePpm: scorer !== undefined },
    );
    const tree = result.tree;
    const answer = chooseAnswer(tree, "q");
    // The path to the best terminal that gave the chosen answer.
    let best: number | undefined;
    for (const n of tree.nodes) {
      if (!n.terminal || n.answer === undefined || n.error !== undefined || n.answer !== answer) continue;
      if (best === undefined || q(n) > q(tree.nodes[best]!)) best = n.id;
    }
    const answers: Record<string, number> = {};
    for (const n of tree.nodes) {
      if (n.terminal && n.answer !== undefined && n.error === undefined) answers[n.answer] = (answers[n.answer] ?? 0) + 1;
    }
    const st = stats(tree);
    return {
      problem: text,
      ...(answer !== undefined ? { answer } : {}),
      steps: best === undefined ? [] : pathIds(tree, best).map((id) => {
        const n = tree.nodes[id]!;
        return { text: n.step.text, code: n.step.code, output: n.stdout.trimEnd(), q: q(n), n: n.N };
      }),
      tree: { nodes: st.nodes, rollouts: st.rolloutsDone, maxDepth: st.maxDepth, answers },
      models: { round: models.round, policy: models.policy.kind === "checkpoint" ? models.policy.version : "bootstrap", scorer: models.scorer.kind === "checkpoint" ? models.scorer.version : "" },
    };
  } finally {
    await services.close();
  }
}

/** Builds the `solve` subcommand. */
export function command(): Command {
  return new Command("solve")
    .description("Solve one problem with a run's latest policy and PPM (MCTS + PPM)")
    .argument("<problem>", "the problem text")
    .option("--run <dir>", "run directory (default runs/evolve-quick-s1)")
    .option("--json", "print one JSON object")
    .action(async (problem: string, opts: { run?: string; json?: boolean }) => {
      const out = await solve(problem, opts.run ?? defaultRunDir("quick", 1));
      if (opts.json) {
        await writeLine(JSON.stringify(out));
        return;
      }
      if (!/\d/.test(problem)) {
        await writeLine("note: the problem has no numbers written as digits; the models only read digits, so this is a best effort");
      }
      for (const [i, s] of out.steps.entries()) {
        await writeLine(`step ${i + 1}: # ${s.text}`);
        if (s.code) await writeLine(`        ${s.code}`);
        if (s.output) await writeLine(`        -> ${s.output}`);
        await writeLine(`        Q=${s.q.toFixed(2)} N=${s.n}`);
      }
      await writeLine(out.answer !== undefined ? `answer: ${out.answer}` : "answer: none (no rollout printed an answer)");
      const votes = Object.entries(out.tree.answers).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([a, n]) => `${a}×${n}`).join(", ");
      await writeLine(`tree: ${out.tree.nodes} nodes, ${out.tree.rollouts} rollouts, depth ${out.tree.maxDepth}; answers ${votes || "-"}; models round ${out.models.round} (${out.models.policy}, ${out.models.scorer})`);
      if (out.answer === undefined) throw new CommandFailed("Cannot solve the problem: no rollout reached an answer");
    });
}
