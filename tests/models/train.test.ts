import * as tf from "@tensorflow/tfjs";
import { assert, beforeAll, describe, expect, it } from "vitest";
import { generateProblems } from "../../math/generator.ts";
import { initBackend } from "../../models/backend.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { greedySolve } from "../../models/rollout.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import { lrAt, type TrainProgress, trainPolicy } from "../../models/train.ts";
import { PRESETS } from "../../models/transformer.ts";

const tok = Tokenizer.forDomain({ perCell: 10 });

describe("trainPolicy", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("lowers the loss, announces its steps, reports progress, and leaves no tensors behind across epochs", async () => {
    const data = generateProblems({ count: 48, seed: 1, level: 2 }).map((p) => ({ problem: p.problem, steps: p.solution! }));
    const policy = TinyPolicy.create({ ...PRESETS.smoke, maxLen: 128 }, tok, 1);
    const before = tf.memory().numTensors;
    const seen: TrainProgress[] = [];
    const starts: { steps: number; afterSteps: number }[] = [];
    const res = await trainPolicy(policy, data, {
      epochs: 4,
      batchSize: 8,
      lr: 3e-3,
      seed: 1,
      onStart: (steps) => starts.push({ steps, afterSteps: seen.length }),
      onProgress: (p) => seen.push(p),
    });
    assert.deepEqual(starts, [{ steps: 24, afterSteps: 0 }], "announces its 24 steps once, before the first");
    assert.equal(tf.memory().numTensors, before);
    assert.equal(res.losses.length, 4);
    assert.isBelow(res.losses[3]!, res.losses[0]! * 0.8);
    assert.equal(seen.length, res.steps);
    assert.equal(seen[seen.length - 1]!.step, 24);
    assert.isAbove(res.tokens, 0);
    policy.dispose();
  });

  it("is deterministic for a seed", async () => {
    const data = generateProblems({ count: 16, seed: 2, level: 1 }).map((p) => ({ problem: p.problem, steps: p.solution! }));
    const run = async () => {
      const policy = TinyPolicy.create({ ...PRESETS.smoke, maxLen: 96 }, tok, 4);
      const res = await trainPolicy(policy, data, { epochs: 2, batchSize: 4, lr: 3e-3, seed: 9 });
      policy.dispose();
      return res.losses;
    };
    assert.deepEqual(await run(), await run());
  });

  it("a time limit that cuts the first epoch short still reports that epoch's loss", async () => {
    const data = generateProblems({ count: 32, seed: 2, level: 1 }).map((p) => ({ problem: p.problem, steps: p.solution! }));
    const policy = TinyPolicy.create({ ...PRESETS.smoke, maxLen: 96 }, tok, 4);
    // Each step takes over half a second, so the 0.5 s limit stops training after the first step.
    const slow = () => {
      const until = performance.now() + 600;
      while (performance.now() < until) { /* a slow step */ }
    };
    const res = await trainPolicy(policy, data, { epochs: 3, batchSize: 4, lr: 3e-3, seed: 9, maxSeconds: 0.5, onProgress: slow });
    policy.dispose();
    assert.equal(res.steps, 1);
    assert.equal(res.losses.length, 1);
    assert.isTrue(Number.isFinite(res.losses[0]!) && res.losses[0]! > 0);
  });

  it("a step limit gives the same weights however slowly the machine runs, and the schedule ends at it", async () => {
    // 16 examples in batches of 4: 4 steps per epoch, so 5 steps end one step into epoch 2.
    const data = generateProblems({ count: 16, seed: 2, level: 1 }).map((p) => ({ problem: p.problem, steps: p.solution! }));
    const run = async (stepMs: number) => {
      const policy = TinyPolicy.create({ ...PRESETS.smoke, maxLen: 96 }, tok, 4);
      const seen: TrainProgress[] = [];
      const res = await trainPolicy(policy, data, {
        epochs: 3,
        batchSize: 4,
        lr: 3e-3,
        seed: 9,
        maxSteps: 5,
        onProgress: (p) => {
          seen.push(p);
          const until = performance.now() + stepMs;
          while (performance.now() < until) { /* a slower machine */ }
        },
      });
      const weights = [...policy.params.values()].map((v) => Array.from(v.dataSync()));
      policy.dispose();
      return { res, seen, weights };
    };
    const fast = await run(0);
    const slow = await run(120);
    assert.equal(fast.res.steps, 5);
    assert.equal(fast.res.losses.length, 2);
    assert.deepEqual(fast.seen.map((p) => p.steps), [5, 5, 5, 5, 5]);
    assert.deepEqual(slow.res.losses, fast.res.losses);
    assert.deepEqual(slow.weights, fast.weights);
  });

  it("refuses a step limit that is not a whole number of steps", async () => {
    const policy = TinyPolicy.create({ ...PRESETS.smoke, maxLen: 96 }, tok, 4);
    const data = generateProblems({ count: 4, seed: 2, level: 1 }).map((p) => ({ problem: p.problem, steps: p.solution! }));
    try {
      for (const maxSteps of [-1, 1.5, Number.NaN]) {
        await expect(trainPolicy(policy, data, { epochs: 1, batchSize: 2, lr: 1e-3, seed: 1, maxSteps })).rejects.toThrow(/maxSteps/);
      }
    } finally {
      policy.dispose();
    }
  });

  it("skips examples longer than maxLen instead of failing", async () => {
    const policy = TinyPolicy.create({ ...PRESETS.smoke, maxLen: 24 }, tok, 1);
    const data = generateProblems({ count: 6, seed: 3, level: 5 }).map((p) => ({ problem: p.problem, steps: p.solution! }));
    const res = await trainPolicy(policy, data, { epochs: 1, batchSize: 2, lr: 1e-3, seed: 1 });
    assert.equal(res.skipped, 6);
    assert.equal(res.steps, 0);
    policy.dispose();
  });

  it("lrAt() warms up linearly then decays to a tenth of the peak", () => {
    assert.isBelow(lrAt(0, 1000, 1), lrAt(10, 1000, 1));
    assert.closeTo(lrAt(20, 1000, 1), 1, 0.01);
    assert.closeTo(lrAt(1000, 1000, 1), 0.1, 1e-9);
  });

  it("a policy trained on reference solutions solves most held-out problems of its family", async () => {
    // Small version of the SFT check (the full one, levels 1–2 over all families, is
    // `deno run -A scripts/bench/models.ts sft`).
    const family = "linear";
    const train = generateProblems({ count: 400, seed: 5, level: 1, family });
    const test = generateProblems({ count: 40, seed: 6, level: 1, family, split: "test" });
    const policy = TinyPolicy.create({ ...PRESETS.smoke, dModel: 48, nLayers: 2, maxLen: 96, stepTokens: 32 }, tok, 1);
    await trainPolicy(policy, train.map((p) => ({ problem: p.problem, steps: p.solution! })), { epochs: 10, batchSize: 16, lr: 4e-3, seed: 1 });
    const out = await greedySolve(policy, test.map((p) => p.problem), { maxSteps: 3 });
    const acc = out.filter((o, i) => o.answer === test[i]!.answer).length / test.length;
    assert.isAtLeast(acc, 0.8, `greedy accuracy ${acc}`);
    policy.dispose();
  });
});
