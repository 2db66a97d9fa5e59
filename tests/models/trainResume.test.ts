import * as tf from "@tensorflow/tfjs";
import { assert, beforeAll, describe, it } from "vitest";
import { generateProblems } from "../../math/generator.ts";
import { initBackend } from "../../models/backend.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { TinyScorer } from "../../models/ppm.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import {
  type PairExample,
  type SavedAt,
  saveTrainingNow,
  type SftExample,
  type TrainCheckpoints,
  type TrainOptions,
  trainPolicy,
  trainScorer,
} from "../../models/train.ts";
import {
  type TrainState,
  TrainStateError,
  trainStateFromBytes,
  trainStateToBytes,
} from "../../models/trainState.ts";
import { PRESETS } from "../../models/transformer.ts";

const tok = Tokenizer.forDomain({ perCell: 10 });
const config = { ...PRESETS.smoke, maxLen: 128 };
// 45 examples in batches of 8: 6 batches an epoch, the last one short.
const problems = generateProblems({ count: 45, seed: 3, level: 2 });
const sft: SftExample[] = problems.map((p) => ({ problem: p.problem, steps: p.solution! }));
const opts: TrainOptions = { epochs: 3, batchSize: 8, lr: 3e-3, seed: 1, weightDecay: 0.01 };

/** A store that keeps what it is given in memory, through the bytes a file would hold. */
class MemoryStore implements TrainCheckpoints {
  saved: Uint8Array | undefined;
  saves = 0;
  loadedFrom: number | undefined;
  /** Throw on this save (1-based) as a kill would end the run, leaving the previous save. */
  constructor(readonly everySeconds = 0, private readonly dieAtSave = Infinity) {}
  load(fingerprint: string): Promise<TrainState | undefined> {
    if (this.saved === undefined) return Promise.resolve(undefined);
    const s = trainStateFromBytes(this.saved, "memory");
    if (s.fingerprint !== fingerprint) return Promise.resolve(undefined);
    this.loadedFrom = s.step;
    return Promise.resolve(s);
  }
  save(state: TrainState): Promise<void> {
    if (++this.saves === this.dieAtSave) return Promise.reject(new Error("killed"));
    this.saved = trainStateToBytes(state);
    return Promise.resolve();
  }
}

function weightBytes(params: Map<string, tf.Variable>): number[] {
  return [...params.values()].flatMap((
    v,
  ) => [...new Uint8Array((v.dataSync() as Float32Array).slice().buffer)]);
}

async function policyRun(
  store: TrainCheckpoints | undefined,
  extra: Partial<TrainOptions> = {},
  data = sft,
) {
  const policy = TinyPolicy.create(config, tok, 1);
  const steps: number[] = [];
  let started: [number, number] | undefined;
  try {
    const res = await trainPolicy(policy, data, {
      ...opts,
      ...extra,
      ...(store ? { checkpoints: store } : {}),
      onStart: (total, done) => (started = [total, done]),
      onProgress: (p) => steps.push(p.step),
    });
    return { res, steps, started, weights: weightBytes(policy.params) };
  } finally {
    policy.dispose();
  }
}

describe("resumable training", () => {
  beforeAll(async () => {
    await initBackend();
  });

  for (const workers of [1, 2]) {
    it(`a run killed part-way continues from its last save to the uninterrupted run's weights, losses and step count (${workers} thread${workers > 1 ? "s" : ""})`, async () => {
      const whole = await policyRun(undefined, { workers });
      // Saves after every step; the 9th save dies, so the run resumes from step 8 (mid-epoch 2).
      const store = new MemoryStore(0, 9);
      const tensors = tf.memory().numTensors;
      const killed = await policyRun(store, { workers }).then(() => undefined, (e: Error) => e);
      assert.equal(killed?.message, "killed");
      const resumed = await policyRun(store, { workers });
      assert.equal(
        tf.memory().numTensors,
        tensors,
        "a killed and a resumed run leave no tensors behind",
      );
      assert.equal(store.loadedFrom, 8);
      assert.deepEqual(resumed.started, [18, 8]);
      assert.deepEqual(resumed.steps, Array.from({ length: 10 }, (_, i) => 9 + i));
      assert.deepEqual(resumed.res.losses, whole.res.losses);
      assert.equal(resumed.res.steps, whole.res.steps);
      assert.equal(resumed.res.tokens, whole.res.tokens);
      assert.isTrue(
        resumed.weights.every((b, i) => b === whole.weights[i]),
        "weights differ from the uninterrupted run's",
      );
    });
  }

  it("a finished run's final state is saved: running it again trains nothing and gives the same weights", async () => {
    const store = new MemoryStore(3600);
    const first = await policyRun(store);
    // With an hour between saves, only the end of the run was saved.
    assert.equal(store.saves, 1);
    const before = tf.memory().numTensors;
    const again = await policyRun(store);
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(again.steps, []);
    assert.deepEqual(again.started, [18, 18]);
    assert.deepEqual(again.res.losses, first.res.losses);
    assert.deepEqual(again.weights, first.weights);
  });

  it("a state saved by a run on other data, or with other options, is not resumed", async () => {
    const store = new MemoryStore(3600);
    await policyRun(store);
    const other = await policyRun(store, {}, sft.slice(1));
    assert.isUndefined(store.loadedFrom);
    assert.equal(other.steps.length, 18);
    store.saved = undefined;
    await policyRun(store);
    await policyRun(store, { lr: 1e-3 });
    assert.isUndefined(store.loadedFrom);
  });

  it("PPM training resumes the same way", async () => {
    const pairs: PairExample[] = problems.map((p) => ({
      problem: p.problem,
      steps: p.solution!.slice(0, 1),
      chosen: p.solution![1]!,
      rejected: p.solution![0]!,
    }));
    const run = async (store?: TrainCheckpoints) => {
      const scorer = TinyScorer.create("ppm", config, tok, 2);
      try {
        const res = await trainScorer(scorer, pairs, {
          epochs: 2,
          batchSize: 5,
          lr: 3e-3,
          seed: 4,
          ...(store ? { checkpoints: store } : {}),
        });
        return { losses: res.losses, weights: weightBytes(scorer.params) };
      } finally {
        scorer.dispose();
      }
    };
    const whole = await run();
    const store = new MemoryStore(0, 12);
    await run(store).catch(() => undefined);
    const resumed = await run(store);
    assert.equal(store.loadedFrom, 11);
    assert.deepEqual(resumed.losses, whole.losses);
    assert.deepEqual(resumed.weights, whole.weights);
  });

  it("saveTrainingNow has a run in progress save after its current step and says where", async () => {
    assert.deepEqual(await saveTrainingNow(), [], "nothing trains, nothing to save");
    const store = Object.assign(new MemoryStore(3600), { label: "round 1 SFT" });
    let asked: Promise<SavedAt[]> | undefined;
    const policy = TinyPolicy.create(config, tok, 1);
    try {
      await trainPolicy(policy, sft, {
        ...opts,
        checkpoints: store,
        onProgress: (p) => {
          if (p.step === 5) asked = saveTrainingNow();
        },
      });
    } finally {
      policy.dispose();
    }
    assert.deepEqual(await asked, [{ label: "round 1 SFT", step: 5, total: 18 }]);
    // The asked save, then the end of the run.
    assert.equal(store.saves, 2);
  });

  it("a damaged state file is an error naming the file and what is wrong", async () => {
    const store = new MemoryStore(3600);
    await policyRun(store);
    const bytes = store.saved!;
    assert.throws(
      () => trainStateFromBytes(bytes.subarray(0, bytes.length - 4), "run/policy.state"),
      TrainStateError,
      /run\/policy\.state.*truncated/,
    );
    assert.throws(() => trainStateFromBytes(new Uint8Array(4), "x"), TrainStateError, /too short/);
  });
});
