/**
 * TinyScorer: the policy's transformer trunk plus a scalar head, scoring a candidate step in
 * [−1, 1]. One class serves the paper's three reward models (Table 8): the Process Preference
 * Model (`ppm`, Bradley–Terry pairs), the outcome reward model (`orm`, whole-solution labels) and
 * Q-value regression (`qreg`, MSE on Q). Training lives in models/train.ts.
 *
 * An item is read as `<bos> problem <sep> step₁ <step> … candidate <step>`; the head reads the
 * hidden state of that final `<step>` token: raw r = w·h + b, score = tanh(r).
 */
import * as tf from "@tensorflow/tfjs";
import type { ScoreItem, Step, StepScorer } from "../math/contracts.ts";
import { Prng } from "../math/prng.ts";
import type { TinyPolicy } from "./policy.ts";
import type { Tokenizer } from "./tokenizer.ts";
import { forwardTrain, initParams, type Params, type PolicyConfig, validateConfig } from "./transformer.ts";

/** The three reward-model kinds. */
export type ScorerKind = "ppm" | "orm" | "qreg";

/** Reward-model kinds, for validation. */
export const SCORER_KINDS: readonly ScorerKind[] = ["ppm", "orm", "qreg"];

/** A transformer step scorer implementing the StepScorer contract. */
export class TinyScorer implements StepScorer {
  /** Implementation name, e.g. "tiny-ppm". */
  readonly name: string;
  /** Version of the weights in use; set by the trainer. */
  version: string;
  /** Which reward model this is. */
  readonly kind: ScorerKind;
  /** Model sizes. */
  readonly config: PolicyConfig;
  /** The tokenizer the weights were trained with. */
  readonly tokenizer: Tokenizer;
  /** Trunk parameters plus `head.w` [d, 1] and `head.b` [1] (owned; freed by `dispose`). */
  readonly params: Params;

  /** Wraps existing parameters (used by checkpoint loading); takes ownership of `params`. */
  constructor(kind: ScorerKind, config: PolicyConfig, tokenizer: Tokenizer, params: Params, version?: string) {
    validateConfig(config);
    if (!params.has("head.w") || !params.has("head.b")) {
      throw new Error("Cannot build scorer: parameters lack head.w / head.b");
    }
    this.kind = kind;
    this.name = `tiny-${kind}`;
    this.config = config;
    this.tokenizer = tokenizer;
    this.params = params;
    this.version = version ?? `${kind}-init`;
  }

  /** A freshly initialised scorer (trunk and head drawn from `seed`). */
  static create(kind: ScorerKind, config: PolicyConfig, tokenizer: Tokenizer, seed: number): TinyScorer {
    const prng = Prng.fromSeed(seed).fork(`scorer-init-${kind}`);
    const params = initParams(config, tokenizer.size, prng);
    addHead(params, config.dModel, prng);
    return new TinyScorer(kind, config, tokenizer, params);
  }

  /** A scorer whose trunk is a copy of the policy's weights (as rStar initialises the PPM). */
  static fromPolicy(policy: TinyPolicy, kind: ScorerKind, seed = 0): TinyScorer {
    const params: Params = new Map();
    for (const [name, v] of policy.params) params.set(name, tf.tidy(() => tf.variable(v.clone() as tf.Tensor, true)));
    addHead(params, policy.config.dModel, Prng.fromSeed(seed).fork(`scorer-head-${kind}`));
    return new TinyScorer(kind, policy.config, policy.tokenizer, params, `${kind}-from-${policy.version}`);
  }

  /** Scores items in [−1, 1], batched. */
  score(items: readonly ScoreItem[]): Promise<number[]> {
    return Promise.resolve(this.scoreSync(items));
  }

  /**
   * Synchronous body of `score` (batches of at most 64 items). The tanh is taken in float64:
   * in float32 it rounds to exactly ±1 once |r| exceeds about 9, which a trained PPM's raw
   * outputs often do, and distinct candidates would then tie.
   */
  scoreSync(items: readonly ScoreItem[]): number[] {
    const out: number[] = [];
    for (let i = 0; i < items.length; i += 64) {
      const chunk = items.slice(i, i + 64).map((it) => this.encodeItem(it.problem, it.steps, it.candidate));
      const raw = tf.tidy(() => {
        const { ids, last } = batchTensors(chunk);
        return rawScores(this.params, this.config, ids, last);
      });
      for (const r of raw.dataSync() as Float32Array) out.push(Math.tanh(r));
      raw.dispose();
    }
    return out;
  }

  /** Token ids of `<bos> problem <sep> steps… candidate <step>`, clipped to maxLen (keeps the end). */
  encodeItem(problem: string, steps: readonly Step[], candidate: Step): number[] {
    const enc = this.tokenizer.encodeExample(problem, [...steps, candidate], false).ids;
    const max = this.config.maxLen;
    return enc.length > max ? [enc[0]!, ...enc.slice(enc.length - max + 1)] : enc;
  }

  /** Frees the weights. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

function addHead(params: Params, d: number, prng: Prng): void {
  const w = new Float32Array(d);
  for (let i = 0; i < d; i++) w[i] = prng.normal() * 0.02;
  params.set("head.w", tf.tidy(() => tf.variable(tf.tensor2d(w, [d, 1]), true)));
  params.set("head.b", tf.tidy(() => tf.variable(tf.zeros([1]), true)));
}

/** Right-padded id matrix [b, t] and the index of each row's last token. */
export function batchTensors(seqs: readonly number[][]): { ids: tf.Tensor2D; last: number[] } {
  const t = Math.max(...seqs.map((s) => s.length));
  const data = new Int32Array(seqs.length * t);
  seqs.forEach((s, r) => data.set(s, r * t));
  return { ids: tf.tensor2d(data, [seqs.length, t], "int32"), last: seqs.map((s) => s.length - 1) };
}

/** Raw (pre-tanh) head outputs [b] at each row's `last` position; differentiable. */
export function rawScores(params: Params, c: PolicyConfig, ids: tf.Tensor2D, last: readonly number[]): tf.Tensor1D {
  const [b, t] = ids.shape;
  const hidden = tf.reshape(forwardTrain(params, c, ids), [b, t, c.dModel]);
  const sel = new Float32Array(b * t);
  last.forEach((l, r) => (sel[r * t + l] = 1));
  // Selecting the last position as a one-hot matmul keeps the gradient path gather-free.
  const picked = tf.reshape(tf.matMul(tf.tensor3d(sel, [b, 1, t]), hidden), [b, c.dModel]);
  const head = params.get("head.w")!;
  return tf.reshape(tf.add(tf.matMul(picked, head), params.get("head.b")!), [b]) as tf.Tensor1D;
}
