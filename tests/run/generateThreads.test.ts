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
import { dealLanes, openSearchLanes, searchInLanes } from "../../scripts/run/searchLanes.ts";
import { searchWithActors } from "../../scripts/run/actorSearch.ts";
import { BootstrapPolicy } from "../../models/bootstrapPolicy.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { InProcessBus } from "../../protocols/inProcessBus.ts";

const problems = [1, 2, 3].flatMap((level) =>
  generateProblems({ count: 3, seed: 21, level, split: "train" }).map((p) => ({
    ...p,
    id: `L${level}-${p.id}`,
  }))
);

/** A round's search of `problems` in one process, generating on `threads` threads (`dir`: the policy's checkpoint; none: the bootstrap's round 1). */
async function search(
  dir: string | undefined,
  threads: number,
): Promise<{ outcomes: SearchOutcome[]; workersDuring: number; lanesDuring: number; splitCalls: number }> {
  const base = resolveConfig("smoke");
  const config = { ...base, generateThreads: threads };
  const services = createLocalServices();
  const outcomes: SearchOutcome[] = [];
  let workersDuring = 0;
  let lanesDuring = 0;
  let splitCalls = 0;
  try {
    await services.start(config);
    await services.search({
      round: dir === undefined ? 1 : 2,
      phase: "train",
      problems,
      knobs: dir === undefined ? config.search.bootstrap : config.search.policy,
      policy: dir === undefined ? { kind: "bootstrap" } : { kind: "checkpoint", dir, version: "policy-r1" },
      seed: 5,
      sftPerProblem: 2,
      pairs: { margin: 0.5, perSide: 2 },
      concurrency: 8,
    }, (r) => {
      workersDuring = Math.max(workersDuring, openProposeWorkers());
      lanesDuring = Math.max(lanesDuring, openSearchLanes());
      outcomes.push(r);
      return Promise.resolve();
    }, { progress: { phase: () => ({ tick: () => {}, done: () => {} }) } } as never);
    if (dir !== undefined) {
      // The loaded policy (the search's, still cached): how many of its calls the worker shared.
      const { proposer } = await services.models({ kind: "checkpoint", dir, version: "policy-r1" });
      splitCalls = proposer instanceof ThreadedPolicy ? proposer.splitCalls : 0;
    }
  } finally {
    await services.close();
  }
  return {
    outcomes: outcomes.sort((a, b) => a.problemId.localeCompare(b.problemId)),
    workersDuring,
    lanesDuring,
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

  it("a bootstrap round searches the same trees in two lanes as in one, and stops its lane worker", async () => {
    const one = await search(undefined, 1);
    const two = await search(undefined, 2);
    assert.equal(one.lanesDuring, 0);
    assert.equal(two.lanesDuring, 1, "the second lane ran in a worker thread");
    assert.equal(openSearchLanes(), 0, "the lane's worker is gone when the search ends");
    assert.equal(two.outcomes.length, problems.length);
    assert.isAbove(two.outcomes.filter((o) => o.solved).length, 0);
    const strip = (o: SearchOutcome) => {
      const { wallMs: _w, ...rest } = o;
      return rest;
    };
    assert.deepEqual(two.outcomes.map(strip), one.outcomes.map(strip));
  }, 120_000);

  it("deals problems to lanes in turn, so each lane gets every level", () => {
    assert.deepEqual(dealLanes([1, 2, 3, 4, 5], 2), [[1, 3, 5], [2, 4]]);
    assert.deepEqual(dealLanes([1], 3), [[1]]);
    assert.deepEqual(dealLanes([1, 2], 1), [[1, 2]]);
  });

  it("a lane that fails loses nothing: its problems are searched on this thread, and the failure is counted", async () => {
    const config = resolveConfig("smoke");
    const searchedHere: string[][] = [];
    let otherFailedFirst = false;
    const done = await searchInLanes(
      {
        round: 2,
        phase: "train",
        problems,
        knobs: config.search.policy,
        // Lanes search with the bootstrap: the worker lane refuses a checkpoint policy.
        policy: { kind: "checkpoint", dir: "/nonexistent", version: "policy-r1" },
        seed: 5,
        sftPerProblem: 2,
        pairs: { margin: 0.5, perSide: 2 },
        concurrency: 4,
      },
      2,
      { run: "lanes-fail", requestTimeoutMs: 5_000 },
      async (req) => {
        if (searchedHere.length === 0) {
          // This lane is still searching when the worker lane fails (its worker is gone).
          const sleep = () => new Promise((r) => setTimeout(r, 10));
          while (openSearchLanes() === 0) await sleep();
          while (openSearchLanes() > 0) await sleep();
          otherFailedFirst = true;
        }
        searchedHere.push(req.problems.map((p) => p.id));
        return { retries: 1 };
      },
      () => Promise.resolve(),
    );
    assert.isTrue(otherFailedFirst);
    const [mine, theirs] = dealLanes(problems, 2).map((l) => l.map((p) => p.id));
    assert.deepEqual(searchedHere, [mine!, theirs!], "this thread searched its lane, then the failed lane's problems");
    assert.equal(done.failures.length, 1);
    assert.match(done.failures[0]!, /a lane searches with the bootstrap policy/);
    assert.equal(done.retries, 2);
    assert.equal(openSearchLanes(), 0);
  });

  it("a second actor search on the same bus after the first has stopped finds what a fresh bus finds (a failed lane's problems)", async () => {
    const config = resolveConfig("smoke");
    const req = (ps: typeof problems) => ({
      round: 1,
      phase: "train" as const,
      problems: ps,
      knobs: config.search.bootstrap,
      policy: { kind: "bootstrap" as const },
      seed: 5,
      sftPerProblem: 2,
      pairs: { margin: 0.5, perSide: 2 },
      concurrency: 4,
    });
    const deps = { run: "again", policy: new BootstrapPolicy(), scorer: undefined, executor: new SafeExecutor(), requestTimeoutMs: () => 5_000 };
    const [first, second] = dealLanes(problems, 2);
    const shared = new InProcessBus();
    const onShared: SearchOutcome[] = [];
    const collect = (into: SearchOutcome[]) => (o: SearchOutcome) => {
      into.push(o);
      return Promise.resolve();
    };
    await searchWithActors(req(first!), { ...deps, bus: shared }, collect(onShared));
    await searchWithActors(req(second!), { ...deps, bus: shared }, collect(onShared));
    await shared.close();
    const fresh: SearchOutcome[] = [];
    const bus = new InProcessBus();
    await searchWithActors(req(second!), { ...deps, bus }, collect(fresh));
    await bus.close();
    const strip = (o: SearchOutcome) => {
      const { wallMs: _w, ...rest } = o;
      return rest;
    };
    const byId = (a: SearchOutcome, b: SearchOutcome) => a.problemId.localeCompare(b.problemId);
    assert.equal(onShared.length, problems.length);
    assert.deepEqual(onShared.filter((o) => second!.some((p) => p.id === o.problemId)).sort(byId).map(strip), fresh.sort(byId).map(strip));
  });
});
