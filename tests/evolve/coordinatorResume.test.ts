import { assert, describe, it } from "vitest";
import { type EvolveDone, type EvolveServices, runEvolve } from "../../actors/coordinator.ts";
import { resolveConfig } from "../../scripts/run/config.ts";
import type { RunSummary } from "../../scripts/run/summary.ts";
import { type FakeCounters, fakeServices } from "./fakeServices.ts";
import { join } from "node:path";

const config = {
  ...resolveConfig("smoke", { seed: 5, rounds: 3 }),
  train: { problemsPerRound: 6, levels: [1, 2, 3, 4, 5] },
  test: { problems: 5, levels: [1, 2, 3, 4, 5] },
};

class Killed extends Error {}

/** The summary without wall times and fault counters (which legitimately differ after a crash). */
function comparable(s: RunSummary): unknown {
  return JSON.parse(JSON.stringify(s, (k, v) => (k === "wallMs" || k === "faults" ? undefined : v)));
}

async function done(p: Promise<unknown>): Promise<EvolveDone> {
  const r = await p as EvolveDone;
  assert.equal(r._tag, "EvolveDone", JSON.stringify(r));
  return r;
}

describe("runEvolve with fake services", () => {
  it("runs every round to a complete summary with nothing lost", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    const r = await done(runEvolve({ runDir: root, resume: false, config }, fakeServices()));
    assert.equal(r.summary.rounds.length, 3);
    assert.equal(r.summary.lost, 0);
    assert.isTrue(r.summary.finished);
    for (const round of r.summary.rounds) {
      assert.equal(round.train.problems, 6);
      assert.deepEqual(Object.keys(round.evaluation).sort(), ["bon-ppm", "bon-vote", "greedy", "mcts"]);
    }
    assert.include(Deno.readTextFileSync(join(root, "report.html")), "<svg");
    assert.isTrue(Deno.statSync(join(root, "round-1", "sft.jsonl")).isFile);
  });

  it("a retry pass asks for retryMultiplier times the rollouts, and says so for a rollouts knob set while the run goes", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    const services = fakeServices();
    const asked: string[] = [];
    const search: typeof services.search = (req, onResult, ctx) => {
      asked.push(`${req.round}:${req.phase}:${req.knobs.rollouts}:${req.rolloutScale ?? "-"}`);
      return services.search(req, onResult, ctx);
    };
    await done(runEvolve({ runDir: root, resume: false, config }, { ...services, search }));
    const m = config.search.retryMultiplier;
    const b = config.search.bootstrap.rollouts;
    assert.includeMembers(asked, [`1:train:${b}:-`, `1:retry:${b * m}:${m}`]);
  });

  it("resume on a finished run does no work and returns the same summary", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    const first = await done(runEvolve({ runDir: root, resume: false, config }, fakeServices()));
    const counters: FakeCounters = { searched: [], trained: [], evaluated: [] };
    const again = await done(runEvolve({ runDir: root, resume: true }, fakeServices({ counters })));
    assert.isTrue(again.alreadyFinished);
    assert.deepEqual(counters, { searched: [], trained: [], evaluated: [] });
    assert.deepEqual(comparable(again.summary), comparable(first.summary));
  });

  it("the report draws the latest round's sample tree that reached a right answer, else the largest", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    await done(runEvolve({ runDir: root, resume: false, config }, fakeServices()));
    const node = (id: number, parent: number, W: number, terminal: boolean) => ({ id, parent, children: [], N: 1, W, terminal, step: { text: `s${id}`, code: "" } });
    const write = (round: number, nodes: unknown[]) =>
      Deno.writeTextFileSync(join(root, `round-${round}`, "sample-tree.json"), JSON.stringify({ problemId: `p${round}`, problem: "?", nodes }));
    const drawn = async () => {
      await done(runEvolve({ runDir: root, resume: true }, fakeServices()));
      return /Sample MCTS tree \(round (\d)/.exec(Deno.readTextFileSync(join(root, "report.html")))?.[1];
    };
    write(1, [node(0, -1, 0, false), node(1, 0, -1, true), node(2, 0, -1, true)]);
    write(2, [node(0, -1, 1, false), node(1, 0, 1, true)]);
    write(3, [node(0, -1, 0, false)]);
    assert.equal(await drawn(), "2");
    write(2, [node(0, -1, -1, false), node(1, 0, -1, true)]);
    assert.equal(await drawn(), "1");
  });

  it("a search pass's recorded wall time leaves out the time the run spent paused", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    const base = fakeServices();
    let clock = 0;
    let paused = 0;
    const slow: EvolveServices = {
      ...base,
      async search(req, onResult, ctx) {
        clock += 1_000; // a second of work
        if (req.round === 1 && req.phase === "train") {
          clock += 60_000; // a minute paused
          paused += 60_000;
        }
        return await base.search(req, onResult, ctx);
      },
      pausedMs: () => paused,
    };
    await done(runEvolve({ runDir: root, resume: false, config, now: () => clock }, slow));
    const passes = Deno.readTextFileSync(join(root, "ledger.jsonl")).trimEnd().split("\n").map((l) => JSON.parse(l))
      .filter((e) => e.type === "search-done");
    assert.isAbove(passes.length, 2);
    for (const e of passes) assert.equal(e.wallMs, 1_000, JSON.stringify(e));
  });

  it("keeps the fault counters a search reported before the process crashed, each counted once", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    const base = fakeServices();
    const crashing: EvolveServices = {
      ...base,
      async search(req, onResult, ctx) {
        if (req.round === 1 && req.phase === "train") {
          ctx.faults?.({ dropped: 4, retries: 2 });
          ctx.faults?.({ dropped: 4, retries: 3 });
          throw new Killed("the process died mid-search");
        }
        return await base.search(req, onResult, ctx);
      },
    };
    const killed = await runEvolve({ runDir: root, resume: false, config }, crashing).catch((e) => e);
    assert.instanceOf(killed, Killed);
    const recorded = Deno.readTextFileSync(join(root, "ledger.jsonl")).trimEnd().split("\n").map((l) => JSON.parse(l))
      .filter((e) => e.type === "faults-recorded").map((e) => e.counters);
    assert.deepEqual(recorded, [{ dropped: 4, retries: 2 }, { retries: 1 }], "each report records what it adds");
    const resumed: EvolveServices = {
      ...base,
      async search(req, onResult, ctx) {
        await base.search(req, onResult, ctx);
        return req.round === 1 && req.phase === "train" ? { faults: { dropped: 5, retries: 3 } } : undefined;
      },
    };
    const r = await done(runEvolve({ runDir: root, resume: true }, resumed));
    assert.deepEqual(r.summary.faults.injected, { dropped: 9, retries: 6 });
  });

  it("a knob set while the run went on is recorded, and a resumed run sets it again", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    const base = fakeServices();
    const given: Record<string, number>[] = [];
    let record: ((key: string, value: number) => void) | undefined;
    const withKnobs = (crash: boolean): EvolveServices => ({
      ...base,
      knobs(restored, rec) {
        given.push({ ...restored });
        record = rec;
      },
      async search(req, onResult, ctx) {
        if (crash && req.round === 2 && req.phase === "train") {
          record!("rollouts", 32);
          record!("temperature", 0.7);
          throw new Killed("the process died mid-search");
        }
        return await base.search(req, onResult, ctx);
      },
    });
    const killed = await runEvolve({ runDir: root, resume: false, config }, withKnobs(true)).catch((e) => e);
    assert.instanceOf(killed, Killed);
    const events = () => Deno.readTextFileSync(join(root, "ledger.jsonl")).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events().filter((e) => e.type === "knob-set"), [
      { type: "knob-set", round: 2, key: "rollouts", value: 32 },
      { type: "knob-set", round: 2, key: "temperature", value: 0.7 },
    ]);
    await done(runEvolve({ runDir: root, resume: true }, withKnobs(false)));
    assert.deepEqual(given, [{}, { rollouts: 32, temperature: 0.7 }], "a new run has none to restore; the resumed one gets both");
  });

  it("records a problem once even when the search reports it twice", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    const r = await done(runEvolve({ runDir: root, resume: false, config }, fakeServices({ duplicateResults: true })));
    assert.equal(r.summary.lost, 0);
    assert.equal(r.summary.faults.duplicateRecords, 0);
  });

  it("a run killed between any two ledger events resumes to the uninterrupted summary, redoing no recorded search, training or evaluated problem", async () => {
    const base = Deno.makeTempDirSync();
    const reference = await done(runEvolve({ runDir: join(base, "ref"), resume: false, config }, fakeServices()));
    const total = Deno.readTextFileSync(join(base, "ref", "ledger.jsonl")).trimEnd().split("\n").length;
    assert.isAbove(total, 40);
    for (let killAt = 0; killAt < total - 1; killAt++) {
      const root = join(base, `kill-${killAt}`);
      let seen = 0;
      let err: unknown;
      try {
        await runEvolve({
          runDir: root,
          resume: false,
          config,
          onEvent: () => {
            if (seen++ === killAt) throw new Killed("killed");
          },
        }, fakeServices());
      } catch (e) {
        err = e;
      }
      assert.instanceOf(err, Killed, `kill at event ${killAt}`);
      const recorded = Deno.readTextFileSync(join(root, "ledger.jsonl")).trimEnd().split("\n").map((l) => JSON.parse(l));
      const resumeCounters: FakeCounters = { searched: [], trained: [], evaluated: [], evaluatedProblems: [] };
      const resumed = await done(runEvolve({ runDir: root, resume: true }, fakeServices({ counters: resumeCounters })));
      assert.deepEqual(comparable(resumed.summary), comparable(reference.summary), `kill at event ${killAt}`);
      assert.equal(resumed.summary.lost, 0);
      assert.equal(resumed.summary.faults.resumes, 1);
      // Work recorded before the kill is not redone.
      for (const e of recorded) {
        if (e.type === "problem-searched") assert.notInclude(resumeCounters.searched, `${e.round}:${e.phase}:${e.problemId}`);
        if (e.type === "round-trained") assert.notInclude(resumeCounters.trained, e.round);
        if (e.type === "evaluation-done") assert.notInclude(resumeCounters.evaluated, `${e.round}:${e.strategy}`);
        if (e.type === "problem-evaluated") {
          assert.notInclude(resumeCounters.evaluatedProblems!, `${e.round}:${e.strategy}:${e.problemId}`, `kill at event ${killAt}`);
        }
      }
    }
  });

  it("a resumed search pass says how many of its problems were recorded before the crash", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    let searched = 0;
    const killed = runEvolve({
      runDir: root,
      resume: false,
      config,
      onEvent: (e) => {
        if (e.type === "problem-searched" && ++searched === 3) throw new Killed("killed");
      },
    }, fakeServices());
    await killed.then(() => assert.fail("the run was to be killed"), (e) => assert.instanceOf(e, Killed));
    const lines: string[] = [];
    const progress = { phase: () => ({ tick() {}, done() {} }), event: (line: string) => void lines.push(line) };
    await done(runEvolve({ runDir: root, resume: true, progress }, fakeServices()));
    assert.include(lines, "round 1 search: resuming, 3 of 6 problems recorded");
  });

  it("recovers from a torn ledger line left by a crash mid-write", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    let seen = 0;
    try {
      await runEvolve({
        runDir: root,
        resume: false,
        config,
        onEvent: () => {
          if (seen++ === 10) throw new Killed("killed");
        },
      }, fakeServices());
    } catch (e) {
      assert.instanceOf(e, Killed);
    }
    Deno.writeTextFileSync(join(root, "ledger.jsonl"), '{"type":"problem-sea', { append: true });
    const r = await done(runEvolve({ runDir: root, resume: true }, fakeServices()));
    assert.equal(r.summary.lost, 0);
    assert.equal(r.summary.faults.tornTails, 1);
  });
});
