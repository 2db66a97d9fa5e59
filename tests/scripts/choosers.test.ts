import { assert, describe, it } from "vitest";
import type { Problem } from "../../math/contracts.ts";
import type { ProposedStep, ProposeRequest, ScoreItem } from "../../math/contracts.ts";
import {
  chooserAccuracy,
  CHOOSERS,
  sampleScored,
  type ScoredSample,
  type SyncPolicy,
  type SyncScorer,
} from "../../scripts/bench/choosers.ts";
import { runChoosersCheck } from "../../scripts/bench/models.ts";
import { resolveConfig } from "../../scripts/run/config.ts";
import { createRunDirectory } from "../../scripts/run/runDirectory.ts";

const sample = (
  answer: string,
  ppm: number[],
  stepLogprobs: number[],
  stepTokens = stepLogprobs.map(() => 5),
): ScoredSample => ({
  answer,
  ppm,
  stepLogprobs,
  stepTokens,
});
const problem = (level: number, answer: string): Problem => ({
  id: `p${level}-${answer}`,
  family: "arithmetic",
  level,
  problem: "?",
  answer,
});

describe("best-of-N choosers", () => {
  // Three samples: the majority answer 7 (a low last PPM step), a lone 9 with the best last step
  // but a bad first one, and a lone 8 whose every step scores well and is the most likely.
  const samples = [
    sample("7", [0.5, -0.2], [-2, -2]),
    sample("9", [-0.9, 0.9], [-3, -3]),
    sample("7", [0.4, -0.1], [-2, -4]),
    sample("8", [0.6, 0.5], [-1, -1]),
  ];

  it("each chooser answers as its name says from the same samples", () => {
    assert.equal(CHOOSERS.vote!(samples), "7");
    assert.equal(CHOOSERS.first!(samples), "7");
    assert.equal(CHOOSERS.ppm_last!(samples), "9");
    assert.equal(CHOOSERS.ppm_min!(samples), "8");
    assert.equal(CHOOSERS.ppm_mean!(samples), "8");
    assert.equal(CHOOSERS.logprob_per_token!(samples), "8");
    assert.equal(CHOOSERS.logprob_min_step!(samples), "8");
    // Weights (s + 1) / 2 on the last step: 7 gets 0.4 + 0.45, 9 gets 0.95, 8 gets 0.75.
    assert.equal(CHOOSERS.vote_ppm!(samples), "9");
  });

  it("no answered sample means no answer, and the problem counts as wrong for every chooser", () => {
    for (const choose of Object.values(CHOOSERS)) assert.isUndefined(choose([]));
    const acc = chooserAccuracy([problem(1, "3")], [[]]);
    for (const r of Object.values(acc)) assert.equal(r.accuracy, 0);
  });

  it("accuracy is counted overall and by level, with the ceiling counting any right sample", () => {
    const problems = [problem(1, "7"), problem(2, "8"), problem(2, "5")];
    const acc = chooserAccuracy(problems, [samples, samples, samples]);
    assert.closeTo(acc.vote!.accuracy, 1 / 3, 1e-12);
    assert.deepEqual(acc.vote!.byLevel, { l1: 1, l2: 0, l3: 0, l4: 0, l5: 0 });
    assert.closeTo(acc.ppm_min!.accuracy, 1 / 3, 1e-12);
    assert.deepEqual(acc.ppm_min!.byLevel, { l1: 0, l2: 0.5, l3: 0, l4: 0, l5: 0 });
    assert.closeTo(acc.ceiling!.accuracy, 2 / 3, 1e-12);
  });
});

describe("choosers' sampling", () => {
  // A policy whose step depends on its request's seed and depth: step 1 sets v1, step 2 prints
  // v1 + 1 or fails (every fifth request), so seeds show in the answers.
  const policy: SyncPolicy = {
    proposeSync: (reqs: readonly ProposeRequest[]): ProposedStep[][] =>
      reqs.map((r) => {
        const code = r.steps.length === 0
          ? `v1 = ${r.seed % 3}`
          : r.seed % 5 === 0
          ? "print(undefined_name)"
          : "print(v1 + 1)";
        return [{ text: `step ${r.steps.length + 1}`, code, logprob: -(r.seed % 11), tokens: 4 }];
      }),
  };
  const seen: ScoreItem[] = [];
  const scorer: SyncScorer = {
    scoreSync: (items: readonly ScoreItem[]) => {
      seen.push(...items);
      return items.map((it) => (it.steps.length === 0 ? 0.25 : -0.5));
    },
  };
  const problems = [problem(1, "2"), problem(2, "3")];

  it("every answered sample carries its answer, and a log-probability, token count and PPM score per step", () => {
    seen.length = 0;
    const out = sampleScored(policy, scorer, problems, { n: 8, temperature: 1, seed: 3 });
    assert.equal(out.length, problems.length);
    const all = out.flat();
    // Failed second steps leave their samples out; the rest answer 1, 2 or 3.
    assert.isAbove(all.length, 0);
    assert.isBelow(all.length, 16);
    for (const s of all) {
      assert.include(["1", "2", "3"], s.answer);
      assert.deepEqual(s.ppm, [0.25, -0.5]);
      assert.deepEqual(s.stepTokens, [4, 4]);
      assert.equal(s.stepLogprobs.length, 2);
    }
    // The scorer saw each answered step after its own prefix, with its problem's text.
    assert.equal(seen.length, all.length * 2);
    assert.isTrue(
      seen.every((it) =>
        it.steps.length === 0
          ? it.candidate.code.startsWith("v1 = ")
          : it.steps[0]!.code.startsWith("v1 = ")
      ),
    );
  });

  it("the same seed gives the same samples, another seed other ones", () => {
    const opts = { n: 8, temperature: 1, seed: 3 };
    assert.deepEqual(
      sampleScored(policy, scorer, problems, opts),
      sampleScored(policy, scorer, problems, opts),
    );
    assert.notDeepEqual(
      sampleScored(policy, scorer, problems, opts),
      sampleScored(policy, scorer, problems, { ...opts, seed: 4 }),
    );
  });

  it("models.ts choosers refuses a run whose round has not trained, naming the missing checkpoint", async () => {
    const dir = Deno.makeTempDirSync({ prefix: "choosers-" });
    createRunDirectory(dir, 1, resolveConfig("smoke"));
    const err = await runChoosersCheck({ run: dir, round: 2, perLevel: 1, n: 2 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instanceOf(err, RangeError);
    assert.match(String(err), /checkpoints\/round-2\/policy is missing/);
  });
});
