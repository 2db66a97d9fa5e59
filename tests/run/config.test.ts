import { assert, describe, it } from "vitest";
import { applySettings, configProblem, PRESET_CONFIGS, resolveConfig, roundLevelCounts, roundLevels } from "../../scripts/run/config.ts";
import { createLocalServices } from "../../scripts/run/localServices.ts";
import { join } from "node:path";

describe("evolve --set KEY=VALUE", () => {
  it("overrides numbers, booleans, lists and optional limits by their dotted path", () => {
    const base = resolveConfig("smoke");
    const c = applySettings(base, [
      "sft.epochs=9",
      "sft.accumulate=false",
      "eval.strategies=greedy,mcts",
      "train.levels=1,2",
      "search.policy.rollouts=24",
      "train.firstRoundProblems=50",
      "sft.maxSeconds=30",
      "trainWorkers=2",
    ]);
    assert.equal(c.sft.epochs, 9);
    assert.equal(c.sft.accumulate, false);
    assert.deepEqual(c.eval.strategies, ["greedy", "mcts"]);
    assert.deepEqual(c.train.levels, [1, 2]);
    assert.equal(c.search.policy.rollouts, 24);
    assert.equal(c.train.firstRoundProblems, 50);
    assert.equal(c.sft.maxSeconds, 30);
    assert.equal(c.trainWorkers, 2);
    assert.equal(base.sft.epochs, 4, "the preset itself is left alone");
  });

  it("refuses an unknown key or a value of the wrong type, naming the key", () => {
    const base = resolveConfig("smoke");
    assert.throws(() => applySettings(base, ["generateThreads=0"]), /generateThreads=0: expected a whole number of threads/);
    assert.throws(() => applySettings(base, ["generateThreads=1.5"]), /generateThreads=1\.5/);
    assert.equal(applySettings(base, ["generateThreads=2"]).generateThreads, 2);
    assert.throws(() => applySettings(base, ["sft.epoch=3"]), /sft\.epoch: no such setting/);
    assert.throws(
      () => applySettings(base, ["sft.epochs=many"]),
      /sft\.epochs=many: expected a number/,
    );
    assert.throws(() => applySettings(base, ["sft.accumulate=yes"]), /expected true or false/);
    assert.throws(() => applySettings(base, ["sft.epochs"]), /expected KEY=VALUE/);
    assert.throws(() => applySettings(base, ["seed.x=1"]), /seed\.x: no such setting/);
    assert.throws(
      () => applySettings(base, ["eval.strategies=greedy,beam"]),
      /unknown strategy "beam"/,
    );
    assert.throws(() => applySettings(base, ["sft.init=fresh"]), /expected scratch or previous/);
    assert.throws(
      () => applySettings(base, ["train.grade=strict"]),
      /train.grade=strict: expected answer or variants/,
    );
    assert.throws(
      () => applySettings(base, ["model.positions=rotary"]),
      /model.positions=rotary: expected learned or alibi/,
    );
  });

  it("points a setting that has its own flag (a file, a URL, faults) to that flag, which checks it", () => {
    const base = resolveConfig("quick");
    assert.throws(() => applySettings(base, ["train.dataset=problems.jsonl"]), /--set train\.dataset: set it with --dataset FILE/);
    assert.throws(() => applySettings(base, ["test.dataset=test.jsonl"]), /set it with --test FILE/);
    assert.throws(() => applySettings(base, ["model.policyUrl=http://127.0.0.1:8000"]), /set it with --policy-url URL/);
    assert.throws(() => applySettings(base, ["transport.nats=nats://127.0.0.1:4222"]), /set it with --nats URL/);
    assert.throws(() => applySettings(base, ["transport.workers=3"]), /set it with --workers N/);
    // Policy rounds that search nothing new (they train again on round 1's picks) need round 1's own count.
    assert.equal(applySettings(base, ["train.problemsPerRound=0"]).train.problemsPerRound, 0);
    assert.throws(
      () => applySettings(resolveConfig("smoke"), ["train.problemsPerRound=0"]),
      /train.problemsPerRound=0: round 1 would search nothing; set train.firstRoundProblems too/,
    );
    assert.throws(() => applySettings(base, ["chaos=drop=0.1"]), /set it with --chaos SPEC/);
    // Optional settings a preset leaves out take --set like any other.
    assert.equal(applySettings(resolveConfig("smoke"), ["sft.maxSteps=7"]).sft.maxSteps, 7);
    assert.throws(() => applySettings(base, ["train.maxLevelByRound=0,5"]), /expected whole levels from 1 to 5/);
    assert.throws(() => applySettings(base, ["train.maxLevelByRound=3,7"]), /expected whole levels from 1 to 5/);
  });

  it("refuses search knobs at start that an expander would refuse in round 2: top-p outside (0, 1], negative temperature or c, counts that are not whole and positive", () => {
    const base = resolveConfig("quick");
    assert.throws(() => applySettings(base, ["search.policy.topP=1.5"]), /search.policy.topP=1.5: expected above 0 and at most 1/);
    assert.throws(() => applySettings(base, ["search.policy.topP=0"]), /search.policy.topP=0: expected above 0/);
    assert.throws(() => applySettings(base, ["search.bootstrap.temperature=-1"]), /search.bootstrap.temperature=-1: expected at least 0/);
    assert.throws(() => applySettings(base, ["eval.temperature=-0.5"]), /eval.temperature=-0.5: expected at least 0/);
    assert.throws(() => applySettings(base, ["search.policy.k=0"]), /search.policy.k=0: expected a whole number of candidates/);
    assert.throws(() => applySettings(base, ["search.bootstrap.rollouts=2.5"]), /search.bootstrap.rollouts=2.5: expected a whole number of rollouts/);
    assert.throws(() => applySettings(base, ["search.policy.c=-1"]), /search.policy.c=-1: expected an exploration constant/);
    assert.strictEqual(applySettings(base, ["search.policy.topP=1", "search.policy.temperature=0"]).search.policy.topP, 1);
  });

  it("refuses, before any work starts, every setting no run could use, naming the setting and what it takes", () => {
    const base = resolveConfig("smoke");
    const cases: [string, RegExp][] = [
      ["model.size=huge", /model\.size=huge: expected smoke, quick or full/],
      ["model.policy=xyz", /model\.policy=xyz: expected tiny or openai/],
      ["model.policy=openai", /needs model\.policyUrl and model\.modelName/],
      ["executor=perl", /executor=perl: expected builtin or python/],
      ["preset=bogus", /preset=bogus: expected smoke, quick or full/],
      ["rounds=0", /rounds=0: expected a whole number of rounds, at least 1/],
      ["eval.samples=0", /eval\.samples=0: expected a whole number of samples/],
      ["test.problems=-3", /test\.problems=-3/],
      ["train.problemsPerRound=1.5", /train\.problemsPerRound=1\.5/],
      ["train.levels=0,7", /train\.levels=0,7: expected a list of levels from 1 to 5/],
      ["train.levels=", /train\.levels=: expected a list of levels/],
      ["sft.lr=-1", /sft\.lr=-1: expected a learning rate above 0/],
      ["ppm.lr=0", /ppm\.lr=0: expected a learning rate above 0/],
      ["sft.batchSize=0", /sft\.batchSize=0: expected a whole number of examples/],
      ["ppm.margin=-0.1", /ppm\.margin=-0\.1/],
      ["search.retryMultiplier=0", /search\.retryMultiplier=0/],
      ["search.concurrency=0", /search\.concurrency=0/],
      ["search.requestTimeoutMs=0", /search\.requestTimeoutMs=0: expected a number of milliseconds above 0/],
    ];
    for (const [setting, message] of cases) assert.throws(() => applySettings(base, [setting]), message, setting);
  });

  it("every preset passes its own checks, and a config.json with a section missing names it", () => {
    for (const preset of ["smoke", "quick", "full"] as const) assert.isUndefined(configProblem(PRESET_CONFIGS[preset]), preset);
    const { sft: _, ...noSft } = resolveConfig("quick");
    assert.match(configProblem(noSft) ?? "", /^sft\.perProblem: missing/);
  });

  it("builds models with ALiBi attention by default, and with learned position embeddings on request", () => {
    for (const preset of ["smoke", "quick", "full"] as const) {
      assert.equal(resolveConfig(preset).model.positions, "alibi");
    }
    assert.equal(
      applySettings(resolveConfig("quick"), ["model.positions=learned"]).model.positions,
      "learned",
    );
  });

  it("grades training answers against the problems' variants by default, and by the answer alone on request", () => {
    for (const preset of ["smoke", "quick", "full"] as const) {
      assert.equal(resolveConfig(preset).train.grade, "variants");
    }
    assert.equal(
      applySettings(resolveConfig("quick"), ["train.grade=answer"]).train.grade,
      "answer",
    );
  });
});

describe("train.maxLevelByRound (a level curriculum)", () => {
  it("caps the levels each round searches, the last entry holding for later rounds", () => {
    const c = applySettings(resolveConfig("smoke"), ["train.maxLevelByRound=2,4"]);
    assert.deepEqual(c.train.maxLevelByRound, [2, 4]);
    assert.deepEqual(roundLevels(c, 1), [1, 2]);
    assert.deepEqual(roundLevels(c, 2), [1, 2, 3, 4]);
    assert.deepEqual(roundLevels(c, 3), [1, 2, 3, 4]);
    assert.deepEqual(roundLevels(resolveConfig("smoke"), 1), [1, 2, 3, 4, 5]);
  });

  it("refuses a cap below the lowest level", () => {
    assert.throws(
      () => applySettings(resolveConfig("smoke"), ["train.maxLevelByRound=0,3"]),
      /train.maxLevelByRound/,
    );
    assert.throws(
      () => applySettings(resolveConfig("smoke"), ["train.maxLevelByRound=2.5"]),
      /whole levels/,
    );
  });

  it("searches train.aboveCapProblems of each level above a round's cap beside the capped levels", async () => {
    const c = applySettings(resolveConfig("smoke"), ["train.maxLevelByRound=3,5", "train.problemsPerRound=7", "train.aboveCapProblems=2"]);
    assert.deepEqual(roundLevelCounts(c, 1, 7), [[1, 3], [2, 2], [3, 2], [4, 2], [5, 2]]);
    assert.deepEqual(roundLevelCounts(c, 2, 7), [[1, 2], [2, 2], [3, 1], [4, 1], [5, 1]]);
    const problems = await createLocalServices().trainProblems(c, 1);
    const byLevel = [1, 2, 3, 4, 5].map((l) => problems.filter((p) => p.level === l).length);
    assert.deepEqual(byLevel, [3, 2, 2, 2, 2]);
    assert.equal(new Set(problems.map((p) => p.id)).size, problems.length, "problem ids are unique");
  });

  it("bounds training by optimiser steps with sft.maxSteps and ppm.maxSteps, refusing anything but a whole number of steps", () => {
    const c = applySettings(resolveConfig("smoke"), ["sft.maxSteps=1200", "ppm.maxSteps=40"]);
    assert.equal(c.sft.maxSteps, 1200);
    assert.equal(c.ppm.maxSteps, 40);
    for (const v of ["0", "-3", "2.5"]) {
      assert.throws(() => applySettings(resolveConfig("smoke"), [`sft.maxSteps=${v}`]), /sft.maxSteps/);
      assert.throws(() => applySettings(resolveConfig("smoke"), [`ppm.maxSteps=${v}`]), /ppm.maxSteps/);
    }
  });

  it("refuses a negative or fractional train.aboveCapProblems", () => {
    for (const v of ["-1", "1.5"]) {
      assert.throws(() => applySettings(resolveConfig("smoke"), [`train.aboveCapProblems=${v}`]), /train.aboveCapProblems/);
    }
  });
});

describe("train.dataset (a JSONL file of training problems)", () => {
  it("gives each round the file's next problems after every earlier round's, round 1 its own count, from the top again once all are used", async () => {
    const file = join(Deno.makeTempDirSync(), "train.jsonl");
    const text = (i: number) => `Ann has ${i} apples and buys 2 more. How many apples?`;
    Deno.writeTextFileSync(file, Array.from({ length: 10 }, (_, i) => JSON.stringify({ problem: text(i), answer: String(i + 2) })).join("\n") + "\n");
    const c = applySettings(resolveConfig("smoke", { dataset: file }), ["train.firstRoundProblems=4", "train.problemsPerRound=3"]);
    const services = createLocalServices();
    const rounds = await Promise.all([1, 2, 3, 4].map((r) => services.trainProblems(c, r)));
    const index = (round: Awaited<ReturnType<typeof services.trainProblems>>) => round.map((p) => Number(/has (\d+)/.exec(p.problem)![1]));
    assert.deepEqual(rounds.map(index), [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 1, 2]]);
  });
});
