import * as tf from "@tensorflow/tfjs";
import process from "node:process";
import { assert, beforeAll, describe, it } from "vitest";
import { generateProblems } from "../../math/generator.ts";
import { initBackend } from "../../models/backend.ts";
import { openTrainWorkers, splitRows } from "../../models/parallelTrain.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { TinyScorer } from "../../models/ppm.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import {
  type PairExample,
  type QExample,
  type TrainOptions,
  type TrainProgress,
  trainPolicy,
  trainScorer,
  trainWorkers,
} from "../../models/train.ts";
import { PRESETS } from "../../models/transformer.ts";

const tok = Tokenizer.forDomain({ perCell: 10 });
const config = { ...PRESETS.smoke, maxLen: 128 };
// 45 examples in batches of 8: the last batch (5 rows) splits unevenly.
const sft = generateProblems({ count: 45, seed: 1, level: 2 }).map((p) => ({ problem: p.problem, steps: p.solution! }));

function weightsOf(params: Map<string, tf.Variable>): Float32Array[] {
  return [...params.values()].map((v) => v.dataSync() as Float32Array);
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((y, j) => (m = Math.max(m, Math.abs(y - b[i]![j]!)))));
  return m;
}

async function policyRun(opts: TrainOptions) {
  const policy = TinyPolicy.create(config, tok, 1);
  const seen: TrainProgress[] = [];
  try {
    const res = await trainPolicy(policy, sft, { ...opts, onProgress: (p) => seen.push(p) });
    return { res, seen, weights: weightsOf(policy.params) };
  } finally {
    policy.dispose();
  }
}

describe("data-parallel training", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("policy SFT on 2 workers gives the 1-worker losses, progress and final weights", async () => {
    const opts = { epochs: 3, batchSize: 8, lr: 3e-3, seed: 1, weightDecay: 0.01 };
    const one = await policyRun({ ...opts, workers: 1 });
    const two = await policyRun({ ...opts, workers: 2 });
    assert.equal(two.res.steps, one.res.steps);
    assert.equal(two.res.tokens, one.res.tokens);
    assert.equal(two.res.losses.length, 3);
    two.res.losses.forEach((l, i) => assert.closeTo(l, one.res.losses[i]!, 1e-4 * one.res.losses[i]!));
    assert.deepEqual(two.seen.map((p) => p.step), one.seen.map((p) => p.step));
    two.seen.forEach((p, i) => assert.closeTo(p.loss, one.seen[i]!.loss, 1e-4 * one.seen[i]!.loss));
    assert.isBelow(maxDiff(two.weights, one.weights), 1e-4);
    assert.equal(openTrainWorkers(), 0);
  });

  it("reward models (PPM pairs, Q-regression) on 2 workers match 1 worker", async () => {
    const probs = generateProblems({ count: 20, seed: 3, level: 2 }).filter((p) => p.solution!.length >= 2);
    const pairs: PairExample[] = probs.map((p) => ({
      problem: p.problem,
      steps: p.solution!.slice(0, 1),
      chosen: p.solution![1]!,
      rejected: p.solution![0]!,
    }));
    const qs: QExample[] = probs.map((p, i) => ({
      problem: p.problem,
      steps: [],
      candidate: p.solution![i % 2]!,
      q: i % 2 === 0 ? 0.8 : -0.6,
    }));
    const run = async (kind: "ppm" | "qreg", workers: number) => {
      const scorer = TinyScorer.create(kind, config, tok, 2);
      try {
        const res = await trainScorer(scorer, kind === "ppm" ? pairs : qs, { epochs: 2, batchSize: 5, lr: 3e-3, seed: 4, workers });
        return { losses: res.losses, weights: weightsOf(scorer.params) };
      } finally {
        scorer.dispose();
      }
    };
    for (const kind of ["ppm", "qreg"] as const) {
      const one = await run(kind, 1);
      const two = await run(kind, 2);
      two.losses.forEach((l, i) => assert.closeTo(l, one.losses[i]!, 1e-4 * Math.abs(one.losses[i]!) + 1e-6, kind));
      assert.isBelow(maxDiff(two.weights, one.weights), 1e-4, kind);
    }
  });

  it("closes its worker after training, also when training throws or the time limit stops it at once", async () => {
    const base = { epochs: 2, batchSize: 8, lr: 3e-3, seed: 1, workers: 2 };
    const policy = TinyPolicy.create(config, tok, 1);
    try {
      let calls = 0;
      const failing = trainPolicy(policy, sft, {
        ...base,
        onProgress: () => {
          if (++calls === 2) throw new Error("progress sink failed");
        },
      });
      let caught: unknown;
      await failing.catch((e) => (caught = e));
      assert.instanceOf(caught, Error);
      assert.equal((caught as Error).message, "progress sink failed");
      assert.equal(openTrainWorkers(), 0);

      const stopped = await trainPolicy(policy, sft, { ...base, maxSeconds: 0 });
      assert.equal(stopped.steps, 0);
      assert.equal(openTrainWorkers(), 0);
    } finally {
      policy.dispose();
    }
  });

  it("leaves no tensors behind across repeated 2-worker runs, one-row batches included", async () => {
    const policy = TinyPolicy.create(config, tok, 1);
    try {
      const before = tf.memory().numTensors;
      for (const batchSize of [8, 1, 8]) {
        const res = await trainPolicy(policy, sft.slice(0, 12), { epochs: 1, batchSize, lr: 1e-3, seed: 2, workers: 2 });
        assert.equal(res.steps, Math.ceil(12 / batchSize));
        assert.equal(tf.memory().numTensors, before);
      }
    } finally {
      policy.dispose();
    }
  });

  it("RSTAR_TRAIN_WORKERS sets the default worker count; the option overrides it", () => {
    const saved = process.env.RSTAR_TRAIN_WORKERS;
    try {
      delete process.env.RSTAR_TRAIN_WORKERS;
      assert.equal(trainWorkers({}), 1);
      process.env.RSTAR_TRAIN_WORKERS = "2";
      assert.equal(trainWorkers({}), 2);
      assert.equal(trainWorkers({ workers: 1 }), 1);
      process.env.RSTAR_TRAIN_WORKERS = "two";
      assert.throws(() => trainWorkers({}), RangeError);
      assert.throws(() => trainWorkers({ workers: 0 }), RangeError);
    } finally {
      if (saved === undefined) delete process.env.RSTAR_TRAIN_WORKERS;
      else process.env.RSTAR_TRAIN_WORKERS = saved;
    }
  });

  it("splitRows() deals a length-sorted batch round-robin, so parts pad to similar lengths", () => {
    assert.deepEqual(splitRows([4, 5, 6, 7, 8], 2), [[4, 6, 8], [5, 7]]);
    assert.deepEqual(splitRows([9], 2), [[9], []]);
  });
});
