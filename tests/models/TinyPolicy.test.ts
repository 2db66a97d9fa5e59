import * as tf from "@tensorflow/tfjs";
import { assert, beforeAll, describe, it } from "vitest";
import { initBackend } from "../../models/backend.ts";
import { sampleToken, TinyPolicy } from "../../models/policy.ts";
import { Prng } from "../../math/prng.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import { PRESETS } from "../../models/transformer.ts";

const corpus = [
  "Mia has 12 red pens and 30 blue pens. How many pens does Mia have?",
  "# Add the pens\ntotal = 12 + 30\nprint(total)",
];
const tok = Tokenizer.build(corpus);
const problem = corpus[0]!;
const config = { ...PRESETS.smoke, maxLen: 96, stepTokens: 10 };

describe("TinyPolicy", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("propose() returns k candidates per request and repeats them for the same seed", async () => {
    const policy = TinyPolicy.create(config, tok, 1);
    const reqs = [
      { problem, steps: [], k: 4, temperature: 1, topP: 0.9, seed: 11 },
      {
        problem,
        steps: [{ text: "Add", code: "x = 12" }],
        k: 2,
        temperature: 0.7,
        topP: 1,
        seed: 12,
      },
      { problem, steps: [], k: 0, temperature: 1, topP: 1, seed: 13 },
    ];
    const a = await policy.propose(reqs);
    const b = await policy.propose(reqs);
    assert.deepEqual(a.map((c) => c.length), [4, 2, 0]);
    assert.deepEqual(a, b);
    for (const c of a.flat()) {
      assert.isAtMost(c.tokens, config.stepTokens);
      assert.isAtLeast(c.tokens, 1);
      assert.isAtMost(c.logprob, 0);
    }
    const other = await policy.propose([{ ...reqs[0]!, seed: 99 }]);
    assert.notDeepEqual(other[0], a[0]);
    policy.dispose();
  });

  for (const positions of ["learned", "alibi"] as const) {
    it(`greedy candidates do not depend on what else is in the batch (${positions} positions)`, async () => {
      const policy = TinyPolicy.create({ ...config, positions }, tok, 2);
      const short = {
        problem: "Mia has 12 pens.",
        steps: [],
        k: 1,
        temperature: 0,
        topP: 1,
        seed: 1,
      };
      const long = {
        problem,
        steps: [{ text: "Add the pens", code: "total = 12 + 30" }],
        k: 2,
        temperature: 0,
        topP: 1,
        seed: 2,
      };
      const [alone] = await policy.propose([short]);
      const [together] = await policy.propose([long, short]).then((r) => [r[1]!]);
      assert.deepEqual(together!.map((c) => c.code), alone!.map((c) => c.code));
      assert.deepEqual(together!.map((c) => c.text), alone!.map((c) => c.text));
      policy.dispose();
    });
  }

  it("tf.memory().numTensors stays flat across 1,000 propose calls", async () => {
    const tiny = { dModel: 16, nLayers: 1, nHeads: 2, dFf: 16, maxLen: 48, stepTokens: 2 };
    const policy = TinyPolicy.create(tiny, tok, 3);
    const req = [{
      problem: "Mia has 12 pens.",
      steps: [],
      k: 2,
      temperature: 1,
      topP: 0.9,
      seed: 0,
    }];
    await policy.propose(req);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 1000; i++) policy.proposeSync([{ ...req[0]!, seed: i }]);
    assert.equal(tf.memory().numTensors, before);
    policy.dispose();
  });

  it("top-p sampling draws from the smallest set of most likely tokens that holds p, peaked, flat or tied", () => {
    // The definition: sort every token by probability (then id), keep the shortest prefix holding
    // p of the mass, draw within it.
    const byDefinition = (row: Float32Array, t: number, p: number, rng: Prng) => {
      const probs = Array.from(row, (x, i) => (i === 0 ? 0 : Math.exp((x - Math.max(...row.slice(1))) / t)));
      const sum = probs.reduce((a, b) => a + b, 0);
      const order = probs.map((_, i) => i).slice(1).sort((x, y) => probs[y]! - probs[x]! || x - y);
      let kept = 0;
      let cut = order.length;
      for (let i = 0; i < order.length; i++) {
        kept += probs[order[i]!]!;
        if (kept >= p * sum) {
          cut = i + 1;
          break;
        }
      }
      let u = rng.float() * kept;
      for (let i = 0; i < cut; i++) if ((u -= probs[order[i]!]!) <= 0) return order[i]!;
      return order[cut - 1]!;
    };
    const gen = Prng.fromSeed(5);
    let draws = 0;
    for (let trial = 0; trial < 300; trial++) {
      const v = 2 + gen.int(200);
      // Peaked (a few large logits), flat (all small) and tied (values from a short list).
      const kind = trial % 3;
      const row = Float32Array.from({ length: v }, () =>
        kind === 0 ? (gen.float() < 0.05 ? 8 * gen.float() : -4 * gen.float()) : kind === 1 ? 0.1 * gen.float() : gen.int(3)
      );
      const t = [0.3, 0.8, 1, 1.5][trial % 4]!;
      const p = [0.5, 0.9, 0.95, 0.999][gen.int(4)]!;
      for (let s = 0; s < 5; s++) {
        const seed = trial * 10 + s;
        const got = sampleToken(row, t, p, Prng.fromSeed(seed));
        assert.strictEqual(got, byDefinition(row, t, p, Prng.fromSeed(seed)), `trial ${trial}, seed ${seed}`);
        assert.isAtLeast(got, 1);
        draws++;
      }
    }
    assert.strictEqual(draws, 1500);
  });
});
