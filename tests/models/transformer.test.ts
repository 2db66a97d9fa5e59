import * as tf from "@tensorflow/tfjs";
import { assert, beforeAll, describe, it } from "vitest";
import { initBackend } from "../../models/backend.ts";
import { Prng } from "../../math/prng.ts";
import {
  alibiSlopes,
  embedAt,
  forwardBlocks,
  forwardTrain,
  initParams,
  type LayerCache,
  type Params,
  type PolicyConfig,
  PRESETS,
  validateConfig,
} from "../../models/transformer.ts";

const VOCAB = 40;
const ids = [1, 7, 12, 3, 30, 22, 9, 14, 5, 38, 2, 11];

/** Hidden states of `ids` decoded one token at a time through the K/V cache. */
function decodeStepwise(p: Params, c: PolicyConfig, seq: number[]): Float32Array[] {
  const out: Float32Array[] = [];
  let cache: LayerCache[] | undefined;
  for (let t = 0; t < seq.length; t++) {
    const res = tf.tidy(() => {
      const x = embedAt(
        p,
        tf.tensor2d([seq[t]!], [1, 1], "int32"),
        tf.tensor2d([t], [1, 1], "int32"),
      );
      const { hidden, cache: next } = forwardBlocks(p, c, x, tf.zeros([1, 1, 1, t + 1]), cache);
      return [hidden, ...next.flatMap((l) => [l.k, l.v])];
    });
    if (cache) { for (const l of cache) tf.dispose([l.k, l.v]); }
    cache = [];
    for (let i = 1; i < res.length; i += 2) {
      cache.push({ k: res[i] as tf.Tensor4D, v: res[i + 1] as tf.Tensor4D });
    }
    out.push(res[0]!.dataSync() as Float32Array);
    res[0]!.dispose();
  }
  if (cache) { for (const l of cache) tf.dispose([l.k, l.v]); }
  return out;
}

describe("transformer trunk", () => {
  beforeAll(async () => {
    await initBackend();
  });

  for (const positions of ["learned", "alibi"] as const) {
    it(`decoding token by token through the cache gives the full forward pass's states (${positions})`, () => {
      const c = { ...PRESETS.smoke, maxLen: 32, positions };
      const p = initParams(c, VOCAB, Prng.fromSeed(3));
      const full = tf.tidy(() =>
        forwardTrain(p, c, tf.tensor2d(ids, [1, ids.length], "int32")).arraySync()
      );
      const steps = decodeStepwise(p, c, ids);
      steps.forEach((h, t) => {
        for (let j = 0; j < h.length; j++) {
          assert.closeTo(h[j]!, full[t]![j]!, 1e-4, `position ${t}, unit ${j}`);
        }
      });
      for (const v of p.values()) v.dispose();
    });
  }

  it("an ALiBi model has no position embedding; a learned one has one row per position", () => {
    const alibi = initParams({ ...PRESETS.smoke, positions: "alibi" }, VOCAB, Prng.fromSeed(1));
    const learned = initParams({ ...PRESETS.smoke, positions: "learned" }, VOCAB, Prng.fromSeed(1));
    assert.isFalse(alibi.has("pos_emb"));
    assert.deepEqual(learned.get("pos_emb")!.shape, [PRESETS.smoke.maxLen, PRESETS.smoke.dModel]);
    // Same seed, same weights elsewhere.
    assert.deepEqual(
      alibi.get("h.0.attn.qkv.w")!.dataSync(),
      learned.get("h.0.attn.qkv.w")!.dataSync(),
    );
    for (const v of [...alibi.values(), ...learned.values()]) v.dispose();
  });

  it("ALiBi attends less to farther tokens: head slopes fall geometrically from 2^(-8/h)", () => {
    assert.deepEqual(alibiSlopes(4), [1 / 4, 1 / 16, 1 / 64, 1 / 256]);
    assert.deepEqual(alibiSlopes(2), [1 / 16, 1 / 256]);
  });

  it("an unknown positions setting is a RangeError naming the field", () => {
    assert.throws(
      () => validateConfig({ ...PRESETS.smoke, positions: "rotary" as "alibi" }),
      RangeError,
      /positions must be "learned" or "alibi", got "rotary"/,
    );
  });
});
