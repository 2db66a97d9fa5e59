/**
 * The decoder-only transformer trunk shared by the policy and the scorers (GPT-2 shape: learned
 * token and position embeddings, pre-LayerNorm blocks with fused QKV attention and a GELU MLP,
 * final LayerNorm, output head tied to the token embedding).
 *
 * Written for TF.js's wasm backend (DESIGN.md, "Known TF.js facts"):
 * - `gather` has no gradient on wasm: training embeds tokens through `pickRows`, which copies the
 *   rows and adds their gradients back into place;
 * - every matmul goes through `mm`, a `tf.customGrad` whose gradient uses explicit transposes
 *   (autodiff's transposed-matmul gradients hit a slow path, about 3× slower);
 * - attention's batched products go through `bmm`, whose forward and gradient products run on a
 *   SIMD kernel (models/kernels/wasmKernels.ts): tfjs-wasm runs batched matmuls in a scalar loop;
 * - the causal mask is an additive constant; generation keeps K and V per layer.
 *
 * All functions here are pure tensor code meant to run inside the caller's `tf.tidy`.
 */
import * as tf from "@tensorflow/tfjs";
import type { Prng } from "../math/prng.ts";
import { batchMatMul, gatherRows, scatterAddRows } from "./kernels/wasmKernels.ts";

/** Sizes of a transformer; `stepTokens` caps the tokens generated for one step. */
export interface PolicyConfig {
  readonly dModel: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly dFf: number;
  readonly maxLen: number;
  readonly stepTokens: number;
  /**
   * How attention sees token order. "learned": a learned absolute position embedding (GPT-2);
   * positions a model never trained on (longer problems than its training data) are noise to it.
   * "alibi": no position embedding, each head's attention scores fall linearly with distance
   * (Press et al., ALiBi), so what is learned on short sequences holds on longer ones.
   * Absent (checkpoints from before the setting): "learned".
   */
  readonly positions?: "learned" | "alibi";
}

/** Whether a config uses ALiBi attention biases instead of a position embedding. */
export function usesAlibi(c: PolicyConfig): boolean {
  return c.positions === "alibi";
}

/** Named size presets: `smoke` for tests, `quick` for the CPU default, `full` for a bigger box. */
export const PRESETS = {
  smoke: { dModel: 32, nLayers: 1, nHeads: 2, dFf: 64, maxLen: 192, stepTokens: 48, positions: "alibi" },
  quick: { dModel: 96, nLayers: 2, nHeads: 8, dFf: 256, maxLen: 224, stepTokens: 48, positions: "alibi" },
  full: { dModel: 192, nLayers: 4, nHeads: 6, dFf: 768, maxLen: 320, stepTokens: 64, positions: "alibi" },
} as const satisfies Record<string, PolicyConfig>;

/** A preset's name. */
export type PresetName = keyof typeof PRESETS;

/** Checks a config's sizes; throws a RangeError naming the bad field (a caller bug). */
export function validateConfig(c: PolicyConfig): void {
  for (const k of ["dModel", "nLayers", "nHeads", "dFf", "maxLen", "stepTokens"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) {
      throw new RangeError(
        `Cannot build transformer: ${k} must be a positive integer, got ${c[k]}`,
      );
    }
  }
  if (c.positions !== undefined && c.positions !== "learned" && c.positions !== "alibi") {
    throw new RangeError(
      `Cannot build transformer: positions must be "learned" or "alibi", got ${
        JSON.stringify(c.positions)
      }`,
    );
  }
  if (c.dModel % c.nHeads !== 0) {
    throw new RangeError(
      `Cannot build transformer: dModel ${c.dModel} is not divisible by nHeads ${c.nHeads}`,
    );
  }
}

/** Parameters of the trunk, by name (the names are the checkpoint's tensor names). */
export type Params = Map<string, tf.Variable>;

type Mm = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** Matmul (2-D or batched 3-D) whose gradient uses explicit transposes (fast on wasm). */
export const mm: Mm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor, tf.Tensor];
      const perm = sa.rank === 3 ? [0, 2, 1] : [1, 0];
      return [
        tf.matMul(dy as tf.Tensor2D, tf.transpose(sb, perm) as tf.Tensor2D),
        tf.matMul(tf.transpose(sa, perm) as tf.Tensor2D, dy as tf.Tensor2D),
      ];
    },
  };
}) as unknown as Mm;

/**
 * Batched product [n, m, k] · [n, k, p] for attention, differentiable: the forward product and
 * both gradient products (dA = dC · Bᵀ, dB = Aᵀ · dC) run through `batchMatMul`.
 */
export const bmm: Mm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: batchMatMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [
        batchMatMul(dy as tf.Tensor3D, tf.transpose(sb, [0, 2, 1])),
        batchMatMul(sa, dy as tf.Tensor3D, true),
      ];
    },
  };
}) as unknown as Mm;

/**
 * Rows `ids` of `w` (the token embedding), differentiable in `w` alone: the forward pass copies
 * the rows (`gatherRows`), the gradient adds each row's gradient into the row it came from
 * (`scatterAddRows`). They replace two products with a one-hot [rows, vocab] matrix (the batch's
 * tokens times the vocabulary), which training used because tfjs-wasm has no gradient for `gather`.
 */
function pickRows(ids: tf.Tensor1D, w: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([ids]);
    return {
      value: gatherRows(x, ids),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        scatterAddRows(dy as tf.Tensor2D, saved[0] as tf.Tensor1D, x.shape[0]),
      ],
    };
  }) as unknown as (x: tf.Tensor) => tf.Tensor2D;
  return f(w);
}

function randn(prng: Prng, shape: number[], std: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = prng.normal() * std;
  return tf.tensor(data, shape);
}

/** Creates freshly initialised trunk parameters (GPT-2 init: N(0, 0.02), scaled residual projections). */
export function initParams(c: PolicyConfig, vocabSize: number, prng: Prng): Params {
  validateConfig(c);
  const p: Params = new Map();
  const d = c.dModel;
  const add = (name: string, t: tf.Tensor) => {
    p.set(name, tf.variable(t, true));
    t.dispose();
  };
  const resStd = 0.02 / Math.sqrt(2 * c.nLayers);
  add("tok_emb", randn(prng, [vocabSize, d], 0.02));
  // Drawn even under ALiBi (then discarded), so both settings draw the same weights elsewhere.
  const pos = randn(prng, [c.maxLen, d], 0.01);
  if (usesAlibi(c)) pos.dispose();
  else add("pos_emb", pos);
  for (let i = 0; i < c.nLayers; i++) {
    add(`h.${i}.ln1.g`, tf.ones([d]));
    add(`h.${i}.ln1.b`, tf.zeros([d]));
    add(`h.${i}.attn.qkv.w`, randn(prng, [d, 3 * d], 0.02));
    add(`h.${i}.attn.qkv.b`, tf.zeros([3 * d]));
    add(`h.${i}.attn.out.w`, randn(prng, [d, d], resStd));
    add(`h.${i}.attn.out.b`, tf.zeros([d]));
    add(`h.${i}.ln2.g`, tf.ones([d]));
    add(`h.${i}.ln2.b`, tf.zeros([d]));
    add(`h.${i}.mlp.fc.w`, randn(prng, [d, c.dFf], 0.02));
    add(`h.${i}.mlp.fc.b`, tf.zeros([c.dFf]));
    add(`h.${i}.mlp.proj.w`, randn(prng, [c.dFf, d], resStd));
    add(`h.${i}.mlp.proj.b`, tf.zeros([d]));
  }
  add("ln_f.g", tf.ones([d]));
  add("ln_f.b", tf.zeros([d]));
  return p;
}

/** Number of scalar parameters. */
export function countParams(p: Params): number {
  let n = 0;
  for (const v of p.values()) n += v.size;
  return n;
}

function get(p: Params, name: string): tf.Variable {
  const v = p.get(name);
  if (v === undefined) throw new Error(`Missing parameter ${name}`);
  return v;
}

function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), -1, true);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, 1e-5))), g), b);
}

/** GELU, sigmoid approximation x·σ(1.702x). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

/** Additive causal mask [t, t]: 0 on and below the diagonal, −1e9 above. */
export function causalMask(t: number): tf.Tensor2D {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -1e9;
  return tf.tensor2d(m, [t, t]);
}

/** ALiBi slope of each of `h` heads: the geometric sequence 2^(−8/h), 2^(−16/h), …, 2^(−8). */
export function alibiSlopes(h: number): number[] {
  return Array.from({ length: h }, (_, i) => 2 ** (-8 * (i + 1) / h));
}

/**
 * ALiBi biases [1, h, s, past + s]: query i (at index past + i) against key j gets
 * −slope · (past + i − j), clamped at 0 for future keys (which the causal mask removes anyway).
 * Only index differences matter, so left padding (contiguous, masked) leaves real tokens' biases
 * equal to their position differences.
 */
function alibiBias(h: number, s: number, past: number): tf.Tensor4D {
  const l = past + s;
  const slopes = alibiSlopes(h);
  const data = new Float32Array(h * s * l);
  for (let k = 0; k < h; k++) {
    for (let i = 0; i < s; i++) {
      const base = (k * s + i) * l;
      for (let j = 0; j < l; j++) data[base + j] = -slopes[k]! * Math.max(0, past + i - j);
    }
  }
  return tf.tensor4d(data, [1, h, s, l]);
}

/**
 * Per-layer attention cache: K and V [n, h, L, dh]. Both grow along their time axis, so a new
 * position is appended with one copy per head (K stored transposed would cost one per head
 * dimension: tfjs-wasm's concat copies row by row in JavaScript).
 */
export interface LayerCache {
  readonly k: tf.Tensor4D;
  readonly v: tf.Tensor4D;
}

/**
 * Runs the blocks on embedded input `x` [b, s, d] with an additive `mask` broadcastable to
 * [b, heads, s, past + s]; `past` holds earlier positions' K/V (generation). Returns the final
 * hidden states [b·s, d] (after the last LayerNorm) and, unless `keep` is false (training), each
 * layer's full K/V.
 */
export function forwardBlocks(
  p: Params,
  c: PolicyConfig,
  x: tf.Tensor3D,
  mask: tf.Tensor,
  past?: readonly LayerCache[],
  keep = true,
): { hidden: tf.Tensor2D; cache: LayerCache[] } {
  const [b, s, d] = x.shape;
  const h = c.nHeads;
  const dh = d / h;
  const scale = 1 / Math.sqrt(dh);
  let res: tf.Tensor = tf.reshape(x, [b * s, d]);
  const cache: LayerCache[] = [];
  const bias = usesAlibi(c) ? tf.add(mask, alibiBias(h, s, past?.[0]?.k.shape[2] ?? 0)) : mask;
  for (let i = 0; i < c.nLayers; i++) {
    const a = layerNorm(res, get(p, `h.${i}.ln1.g`), get(p, `h.${i}.ln1.b`));
    const qkv = tf.add(mm(a, get(p, `h.${i}.attn.qkv.w`)), get(p, `h.${i}.attn.qkv.b`));
    const [q2, k2, v2] = tf.split(qkv, 3, 1) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const q = tf.transpose(tf.reshape(tf.mul(q2, scale), [b, s, h, dh]), [0, 2, 1, 3]);
    const kh = tf.reshape(k2, [b, s, h, dh]);
    let v = tf.transpose(tf.reshape(v2, [b, s, h, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
    const qs = tf.reshape(q, [b * h, s, dh]);
    const prev = past?.[i];
    let qk: tf.Tensor;
    let l = s;
    if (prev === undefined) {
      // The whole sequence at once (training, prefill): K transposed, through the differentiable product.
      qk = bmm(qs, tf.reshape(tf.transpose(kh, [0, 2, 3, 1]), [b * h, dh, s]));
      if (keep) cache.push({ k: tf.transpose(kh, [0, 2, 1, 3]) as tf.Tensor4D, v });
    } else {
      // New positions against the cache (generation, no gradient). One new position (every
      // decoding step) takes its scores as K · qᵀ, row dot products `batchMatMul` runs in SIMD
      // lanes; more read K transposed in place, the same sums as against an explicit transpose.
      const k = tf.concat([prev.k, tf.transpose(kh, [0, 2, 1, 3]) as tf.Tensor4D], 2);
      v = tf.concat([prev.v, v], 2);
      cache.push({ k, v });
      l = k.shape[2];
      const keys = tf.reshape(k, [b * h, l, dh]) as tf.Tensor3D;
      qk = s === 1
        ? batchMatMul(keys, tf.reshape(qs, [b * h, dh, 1]))
        : tf.matMul(qs, keys, false, true);
    }
    const scores = tf.add(tf.reshape(qk, [b, h, s, l]), bias);
    const att = tf.reshape(tf.softmax(scores), [b * h, s, l]);
    const o = tf.reshape(bmm(att, tf.reshape(v, [b * h, l, dh])), [b, h, s, dh]);
    const merged = tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [b * s, d]);
    res = tf.add(res, tf.add(mm(merged, get(p, `h.${i}.attn.out.w`)), get(p, `h.${i}.attn.out.b`)));
    const m = layerNorm(res, get(p, `h.${i}.ln2.g`), get(p, `h.${i}.ln2.b`));
    const f = gelu(tf.add(mm(m, get(p, `h.${i}.mlp.fc.w`)), get(p, `h.${i}.mlp.fc.b`)));
    res = tf.add(res, tf.add(mm(f, get(p, `h.${i}.mlp.proj.w`)), get(p, `h.${i}.mlp.proj.b`)));
  }
  return { hidden: layerNorm(res, get(p, "ln_f.g"), get(p, "ln_f.b")) as tf.Tensor2D, cache };
}

/**
 * Differentiable training forward over right-padded ids [b, t] from position 0: token embedding
 * rows (`pickRows`), causal mask. Returns final hidden states [b·t, d].
 */
export function forwardTrain(p: Params, c: PolicyConfig, ids: tf.Tensor2D): tf.Tensor2D {
  const [b, t] = ids.shape;
  const d = c.dModel;
  const emb = tf.reshape(pickRows(tf.reshape(ids, [b * t]) as tf.Tensor1D, get(p, "tok_emb") as tf.Tensor2D), [b, t, d]);
  const x =
    (usesAlibi(c) ? emb : tf.add(emb, tf.slice(get(p, "pos_emb"), [0, 0], [t, d]))) as tf.Tensor3D;
  return forwardBlocks(p, c, x, causalMask(t), undefined, false).hidden;
}

/** Next-token logits [rows, vocab] from hidden states (head tied to the token embedding). */
export function logitsOf(p: Params, hidden: tf.Tensor2D): tf.Tensor2D {
  return mm(hidden, tf.transpose(get(p, "tok_emb"))) as tf.Tensor2D;
}

/**
 * Inference embedding (gather, no gradient needed) of ids [b, s] at per-token positions [b, s].
 */
export function embedAt(p: Params, ids: tf.Tensor2D, positions: tf.Tensor2D): tf.Tensor3D {
  const [b, s] = ids.shape;
  const tok = gatherRows(get(p, "tok_emb"), tf.reshape(ids, [b * s]) as tf.Tensor1D);
  if (!p.has("pos_emb")) return tf.reshape(tok, [b, s, -1]) as tf.Tensor3D;
  const pos = gatherRows(get(p, "pos_emb"), tf.reshape(positions, [b * s]) as tf.Tensor1D);
  return tf.reshape(tf.add(tok, pos), [b, s, -1]) as tf.Tensor3D;
}

/** Rough training FLOPs for `tokens` tokens at sequence length t: 6·params·tokens + attention. */
export function trainFlops(c: PolicyConfig, params: number, tokens: number, t: number): number {
  // Attention scores and weighted sum: 2 matmuls of 2·t·d per token per layer, ×3 for backward.
  return 6 * params * tokens + 3 * 2 * 2 * c.nLayers * t * c.dModel * tokens;
}
