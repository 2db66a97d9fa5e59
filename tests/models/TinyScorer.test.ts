import * as tf from "@tensorflow/tfjs";
import { assert, beforeAll, describe, it } from "vitest";
import { generateProblems } from "../../math/generator.ts";
import { Prng } from "../../math/prng.ts";
import { corruptStep as corrupt, syntheticPairs as pairs } from "../../scripts/bench/models.ts";
import { initBackend } from "../../models/backend.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { TinyScorer } from "../../models/ppm.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import { trainScorer } from "../../models/train.ts";
import { PRESETS } from "../../models/transformer.ts";

const tok = Tokenizer.forDomain({ perCell: 10 });

describe("TinyScorer", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("a PPM trained on preference pairs ranks most held-out pairs correctly", async () => {
    const train = pairs(generateProblems({ count: 600, seed: 1, level: 1, family: "arithmetic" }), 1);
    const test = pairs(generateProblems({ count: 100, seed: 2, level: 1, family: "arithmetic", split: "test" }), 2);
    const ppm = TinyScorer.create("ppm", { ...PRESETS.smoke, maxLen: 96 }, tok, 1);
    const res = await trainScorer(ppm, train, { epochs: 4, batchSize: 16, lr: 3e-3, seed: 1 });
    assert.isBelow(res.losses[res.losses.length - 1]!, res.losses[0]!);
    const chosen = await ppm.score(test.map((e) => ({ problem: e.problem, steps: e.steps, candidate: e.chosen })));
    const rejected = await ppm.score(test.map((e) => ({ problem: e.problem, steps: e.steps, candidate: e.rejected })));
    const right = chosen.filter((c, i) => c > rejected[i]!).length / test.length;
    assert.isAtLeast(right, 0.85, `ranked ${right} of held-out pairs correctly`);
    for (const s of [...chosen, ...rejected]) assert.isTrue(s >= -1 && s <= 1);
    ppm.dispose();
  });

  it("fromPolicy() copies the policy's trunk, and the copy is independent", () => {
    const policy = TinyPolicy.create(PRESETS.smoke, tok, 3);
    const ppm = TinyScorer.fromPolicy(policy, "ppm");
    const w = policy.params.get("h.0.mlp.fc.w")!;
    assert.deepEqual(Array.from(ppm.params.get("h.0.mlp.fc.w")!.dataSync()), Array.from(w.dataSync()));
    policy.dispose();
    // The scorer's weights survive the policy's disposal.
    assert.equal(ppm.params.get("h.0.mlp.fc.w")!.isDisposed, false);
    ppm.dispose();
  });

  it("ORM and Q-regression training lower their losses", async () => {
    const probs = generateProblems({ count: 120, seed: 3, level: 1, family: "arithmetic" });
    const rng = Prng.fromSeed(4);
    const orm = TinyScorer.create("orm", { ...PRESETS.smoke, maxLen: 96 }, tok, 2);
    const outcomes = probs.map((p, i) => {
      const good = i % 2 === 0;
      const sol = p.solution!;
      return { problem: p.problem, steps: good ? sol : [...sol.slice(0, -1), corrupt(sol[sol.length - 1]!, rng)], label: good ? 1 : -1 };
    });
    const r1 = await trainScorer(orm, outcomes, { epochs: 3, batchSize: 16, lr: 3e-3, seed: 1 });
    assert.isBelow(r1.losses[2]!, r1.losses[0]!);
    const qreg = TinyScorer.create("qreg", { ...PRESETS.smoke, maxLen: 96 }, tok, 3);
    const qs = probs.map((p, i) => ({ problem: p.problem, steps: [], candidate: p.solution![0]!, q: i % 2 === 0 ? 0.8 : -0.6 }));
    const r2 = await trainScorer(qreg, qs, { epochs: 3, batchSize: 16, lr: 3e-3, seed: 1 });
    assert.isBelow(r2.losses[2]!, r2.losses[0]!);
    assert.throws(() => trainScorer(qreg, outcomes, { epochs: 1, batchSize: 4, lr: 1e-3, seed: 1 }), RangeError);
    orm.dispose();
    qreg.dispose();
  });

  it("tf.memory().numTensors stays flat across 1,000 score calls", async () => {
    const tiny = { dModel: 16, nLayers: 1, nHeads: 2, dFf: 16, maxLen: 48, stepTokens: 2 };
    const ppm = TinyScorer.create("ppm", tiny, tok, 5);
    const item = { problem: "Add 2 and 3.", steps: [], candidate: { text: "Add", code: "print(2 + 3)" } };
    await ppm.score([item]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 1000; i++) ppm.scoreSync([item, item]);
    assert.equal(tf.memory().numTensors, before);
    ppm.dispose();
  });
});
