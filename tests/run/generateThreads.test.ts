import { assert, describe, it } from "vitest";
import type { SearchOutcome } from "../../actors/coordinator.ts";
import { generateProblems } from "../../math/generator.ts";
import { initBackend } from "../../models/backend.ts";
import { saveCheckpoint } from "../../models/checkpoint.ts";
import { openProposeWorkers, ThreadedPolicy } from "../../models/parallelPropose.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import { PRESETS } from "../../models/transformer.ts";
import { resolveConfig } from "../../scripts/run/config.ts";
import { createLocalServices } from "../../scripts/run/localServices.ts";

const problems = [1, 2, 3].flatMap((level) =>
  generateProblems({ count: 3, seed: 21, level, split: "train" }).map((p) => ({
    ...p,
    id: `L${level}-${p.id}`,
  }))
);

/** A policy round's search of `problems` in one process, generating on `threads` threads. */
async function search(
  dir: string,
  threads: number,
): Promise<{ outcomes: SearchOutcome[]; workersDuring: number; splitCalls: number }> {
  const base = resolveConfig("smoke");
  const config = { ...base, generateThreads: threads };
  const services = createLocalServices();
  const outcomes: SearchOutcome[] = [];
  let workersDuring = 0;
  let splitCalls = 0;
  try {
    await services.start(config);
    await services.search({
      round: 2,
      phase: "train",
      problems,
      knobs: config.search.policy,
      policy: { kind: "checkpoint", dir, version: "policy-r1" },
      seed: 5,
      sftPerProblem: 2,
      pairs: { margin: 0.5, perSide: 2 },
      concurrency: 8,
    }, (r) => {
      workersDuring = Math.max(workersDuring, openProposeWorkers());
      outcomes.push(r);
      return Promise.resolve();
    }, { progress: { phase: () => ({ tick: () => {}, done: () => {} }) } } as never);
    // The loaded policy (the search's, still cached): how many of its calls the worker shared.
    const { proposer } = await services.models({ kind: "checkpoint", dir, version: "policy-r1" });
    splitCalls = proposer instanceof ThreadedPolicy ? proposer.splitCalls : 0;
  } finally {
    await services.close();
  }
  return {
    outcomes: outcomes.sort((a, b) => a.problemId.localeCompare(b.problemId)),
    workersDuring,
    splitCalls,
  };
}

describe("generateThreads", () => {
  it(
    "a policy round searches the same trees on two generation threads as on one, and closes its worker",
    async () => {
      await initBackend();
      const tok = Tokenizer.build(
        problems.flatMap((p) => [p.problem, ...p.solution!.map((s) => `# ${s.text}\n${s.code}`)]),
      );
      const dir = Deno.makeTempDirSync({ prefix: "gen-threads-" });
      const policy = TinyPolicy.create({ ...PRESETS.smoke, positions: "alibi" }, tok, 3);
      await saveCheckpoint(dir, policy, { round: 1 });
      policy.dispose();

      const one = await search(dir, 1);
      const two = await search(dir, 2);
      assert.equal(one.workersDuring, 0);
      assert.equal(two.workersDuring, 1, "the second thread was started for the search");
      assert.isAbove(two.splitCalls, 0, "some propose calls were shared with the worker");
      assert.equal(openProposeWorkers(), 0, "closing the services stops the worker");
      const strip = (o: SearchOutcome) => {
        const { wallMs: _w, tree: _t, ...rest } = o;
        return rest;
      };
      assert.equal(two.outcomes.length, problems.length);
      assert.deepEqual(two.outcomes.map(strip), one.outcomes.map(strip));
      // Log-probabilities (and the priors made of them) may differ in the last digits, as between
      // batches of different sizes on one thread: a row's padding changes the order of float sums.
      const rounded = (tree: unknown) =>
        JSON.parse(
          JSON.stringify(tree, (k, v) =>
            (k === "logprob" || k === "prior") && typeof v === "number"
              ? Number(v.toPrecision(6))
              : v),
        );
      assert.deepEqual(
        two.outcomes.map((o) => rounded(o.tree)),
        one.outcomes.map((o) => rounded(o.tree)),
      );
    },
    120_000,
  );
});
