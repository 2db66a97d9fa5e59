import * as tf from "@tensorflow/tfjs";
import { assert, beforeAll, describe, it } from "vitest";
import type { Problem, Step } from "../../math/contracts.ts";
import { generateProblems } from "../../math/generator.ts";
import { runCode } from "../../math/interpreter.ts";
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

  it("a confident scorer's scores keep distinct candidates apart instead of tying at 1", () => {
    const ppm = TinyScorer.create("ppm", PRESETS.smoke, tok, 6);
    // Raw outputs near 12: tanh in float32 would round every one of them to exactly 1.
    ppm.params.get("head.b")!.assign(tf.tensor1d([12]));
    const items = [1, 2, 3, 4, 5, 6].map((k) => ({ problem: "Add 2 and 3.", steps: [], candidate: { text: "Add", code: `print(2 + ${k})` } }));
    const scores = ppm.scoreSync(items);
    for (const s of scores) assert.isTrue(s > 0.99 && s < 1, `score ${s}`);
    assert.isAbove(new Set(scores).size, 1, "every candidate got the same score");
    ppm.dispose();
  });

  it("synthetic pairs never label a corruption that still reaches the reference answer as wrong", () => {
    const answerOf = (steps: readonly Step[]) => runCode(steps.map((s) => s.code).join("\n")).stdout.trim().split("\n").at(-1);
    const problems = generateProblems({ count: 300, seed: 4 });
    for (const e of pairs(problems, 4)) {
      const p = problems.find((q) => q.problem === e.problem)!;
      const rest = p.solution!.slice(e.steps.length + 1);
      assert.notEqual(answerOf([...e.steps, e.rejected, ...rest]), answerOf(p.solution!), `${e.rejected.code} after ${e.steps.map((s) => s.code)}`);
    }
    // `2 * 2` → `2 + 2` is harmless and dropped; a bumped number is wrong and kept.
    const twice: Problem = { id: "t", family: "arithmetic", level: 1, problem: "What is 2 times 2?", answer: "4", solution: [{ text: "multiply", code: "print(2 * 2)" }] };
    const kept = Array.from({ length: 40 }, (_, seed) => pairs([twice], seed)).flat();
    assert.isAbove(kept.length, 0);
    assert.isBelow(kept.length, 40);
    for (const e of kept) assert.notInclude(e.rejected.code, "2 + 2");
  });
});
