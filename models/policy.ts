/**
 * TinyPolicy: the embedded default policy, a small decoder-only transformer trained from scratch
 * (models/transformer.ts) that writes the next solution step.
 *
 * `propose` folds every request × k samples into one batch: the distinct prompts are prefilled in
 * one left-padded forward pass, their K/V caches are tiled k times, then one batched forward runs
 * per token position. Each sample stops at `<step>` / `<eos>` or after `stepTokens` tokens;
 * finished samples keep decoding padding so the batch stays rectangular.
 */
import * as tf from "@tensorflow/tfjs";
import type { ProposedStep, ProposeRequest, StepProposer } from "../math/contracts.ts";
import { Prng } from "../math/prng.ts";
import { EOS, PAD, parseStep, STEP, type Tokenizer } from "./tokenizer.ts";
import { gatherRows } from "./kernels/wasmKernels.ts";
import {
  embedAt,
  forwardBlocks,
  initParams,
  type LayerCache,
  logitsOf,
  type Params,
  type PolicyConfig,
  validateConfig,
} from "./transformer.ts";

export { type PolicyConfig, PRESETS, type PresetName } from "./transformer.ts";

/** A decoder-only transformer policy implementing the StepProposer contract. */
export class TinyPolicy implements StepProposer {
  /** Implementation name. */
  readonly name = "tiny";
  /** Version of the weights in use, recorded in every result; set by the trainer. */
  version: string;
  /** Model sizes. */
  readonly config: PolicyConfig;
  /** The tokenizer the weights were trained with. */
  readonly tokenizer: Tokenizer;
  /** The trunk's parameters (owned; freed by `dispose`). */
  readonly params: Params;

  /** Wraps existing parameters (used by checkpoint loading); takes ownership of `params`. */
  constructor(config: PolicyConfig, tokenizer: Tokenizer, params: Params, version = "policy-init") {
    validateConfig(config);
    this.config = config;
    this.tokenizer = tokenizer;
    this.params = params;
    this.version = version;
  }

  /** A freshly initialised policy (weights drawn from `seed`). */
  static create(config: PolicyConfig, tokenizer: Tokenizer, seed: number): TinyPolicy {
    const params = initParams(config, tokenizer.size, Prng.fromSeed(seed).fork("policy-init"));
    return new TinyPolicy(config, tokenizer, params);
  }

  /** Samples k next steps for every request in one batched generation. */
  propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    return Promise.resolve(this.proposeSync(requests));
  }

  /**
   * How much of a prompt the policy reads: the tokens of `problem` with no steps yet, and the
   * most it keeps of any prompt (it reads a longer one from its end, `<bos>` kept).
   */
  promptFit(problem: string): { readonly tokens: number; readonly room: number } {
    const c = this.config;
    return { tokens: this.tokenizer.encodePrompt(problem, []).ids.length, room: Math.max(2, c.maxLen - c.stepTokens) };
  }

  /** Synchronous body of `propose`. */
  proposeSync(requests: readonly ProposeRequest[]): ProposedStep[][] {
    const c = this.config;
    const active = requests.map((r, i) => ({ r, i })).filter(({ r }) => r.k > 0);
    const out: ProposedStep[][] = requests.map(() => []);
    if (active.length === 0) return out;
    // Prompts, clipped so that prompt + step cap fits maxLen (keep <bos> and the latest tokens).
    const prompts = active.map(({ r }) => {
      const enc = this.tokenizer.encodePrompt(r.problem, r.steps);
      const room = this.promptFit("").room;
      const ids = enc.ids.length > room ? [enc.ids[0]!, ...enc.ids.slice(enc.ids.length - room + 1)] : enc.ids;
      return { ids, slots: enc.slots };
    });
    const tp = Math.max(...prompts.map((p) => p.ids.length));
    const cap = Math.min(c.stepTokens, c.maxLen - tp);
    const nR = prompts.length;
    // Rows of the generation batch: request a, sample j.
    const rows: { a: number; j: number }[] = [];
    active.forEach(({ r }, a) => {
      for (let j = 0; j < r.k; j++) rows.push({ a, j });
    });
    const n = rows.length;
    const pads = prompts.map((p) => tp - p.ids.length);
    const rowPad = rows.map(({ a }) => pads[a]!);
    const rngs = rows.map(({ a, j }) => Prng.fromSeed(active[a]!.r.seed).fork(j));
    const gen: number[][] = rows.map(() => []);
    const logprob = new Float64Array(n);
    const done = new Uint8Array(n);

    // Prefill the distinct prompts, then tile their caches to the sample rows.
    let cache: LayerCache[];
    let logits: Float32Array;
    {
      const res = tf.tidy(() => {
        const ids = new Int32Array(nR * tp);
        const pos = new Int32Array(nR * tp);
        const mask = new Float32Array(nR * tp * tp);
        prompts.forEach((p, a) => {
          const pad = pads[a]!;
          for (let t = 0; t < tp; t++) {
            ids[a * tp + t] = t < pad ? PAD : p.ids[t - pad]!;
            pos[a * tp + t] = Math.max(0, t - pad);
            for (let u = 0; u < tp; u++) {
              if (u > t || u < pad) mask[(a * tp + t) * tp + u] = -1e9;
            }
            // A pad query row attends to itself only, to keep its softmax finite.
            if (t < pad) mask[(a * tp + t) * tp + t] = 0;
          }
        });
        const x = embedAt(this.params, tf.tensor2d(ids, [nR, tp], "int32"), tf.tensor2d(pos, [nR, tp], "int32"));
        const { hidden, cache } = forwardBlocks(this.params, c, x, tf.tensor4d(mask, [nR, 1, tp, tp]));
        const last = tf.reshape(hidden, [nR, tp, c.dModel]).slice([0, tp - 1, 0], [nR, 1, c.dModel]);
        const lg = logitsOf(this.params, tf.reshape(last, [nR, c.dModel]) as tf.Tensor2D);
        const sel = tf.tensor1d(rows.map((r) => r.a), "int32");
        return [gatherRows(lg, sel), ...cache.flatMap((l) => [gatherRows(l.k, sel), gatherRows(l.v, sel)])];
      });
      logits = res[0]!.dataSync() as Float32Array;
      res[0]!.dispose();
      cache = unflatten(res.slice(1));
    }
    const padMaskData = new Float32Array(n * tp);
    rows.forEach((_, r) => {
      for (let u = 0; u < rowPad[r]!; u++) padMaskData[r * tp + u] = -1e9;
    });
    const vocab = this.tokenizer.size;
    try {
      for (let step = 0; step < cap; step++) {
        const next = new Int32Array(n);
        for (let r = 0; r < n; r++) {
          if (done[r]) {
            next[r] = PAD;
            continue;
          }
          const req = active[rows[r]!.a]!.r;
          const row = logits.subarray(r * vocab, (r + 1) * vocab);
          const tok = sampleToken(row, req.temperature, req.topP, rngs[r]!);
          logprob[r]! += logSoftmaxAt(row, tok);
          next[r] = tok;
          gen[r]!.push(tok);
          if (tok === STEP || tok === EOS) done[r] = 1;
        }
        if (step === cap - 1 || done.every((x) => x === 1)) break;
        const old = cache;
        const res = tf.tidy(() => {
          const pos = new Int32Array(n);
          for (let r = 0; r < n; r++) pos[r] = tp - rowPad[r]! + step;
          const x = embedAt(this.params, tf.tensor2d(next, [n, 1], "int32"), tf.tensor2d(pos, [n, 1], "int32"));
          const mask = tf.concat([
            tf.tensor4d(padMaskData, [n, 1, 1, tp]),
            tf.zeros([n, 1, 1, step + 1]),
          ], 3);
          const { hidden, cache: nc } = forwardBlocks(this.params, c, x, mask, old);
          return [logitsOf(this.params, hidden), ...nc.flatMap((l) => [l.k, l.v])];
        });
        for (const l of old) tf.dispose([l.k, l.v]);
        cache = unflatten(res.slice(1));
        logits = res[0]!.dataSync() as Float32Array;
        res[0]!.dispose();
      }
    } finally {
      for (const l of cache) tf.dispose([l.k, l.v]);
    }
    rows.forEach(({ a }, r) => {
      const toks = gen[r]!;
      const body = toks.length > 0 && (toks[toks.length - 1] === STEP || toks[toks.length - 1] === EOS)
        ? toks.slice(0, -1)
        : toks;
      const step = parseStep(this.tokenizer.decode(body, prompts[a]!.slots));
      out[active[a]!.i]!.push({ ...step, logprob: logprob[r]!, tokens: toks.length });
    });
    return out;
  }

  /** Frees the weights. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

function unflatten(ts: tf.Tensor[]): LayerCache[] {
  const out: LayerCache[] = [];
  for (let i = 0; i < ts.length; i += 2) out.push({ k: ts[i] as tf.Tensor4D, v: ts[i + 1] as tf.Tensor4D });
  return out;
}

/** log softmax(row)[tok], computed stably. */
export function logSoftmaxAt(row: Float32Array, tok: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return row[tok]! - max - Math.log(sum);
}

/**
 * Draws a token from logits with temperature and nucleus (top-p) truncation; temperature ≤ 0 is
 * greedy. The padding token is never drawn.
 */
export function sampleToken(row: Float32Array, temperature: number, topP: number, rng: Prng): number {
  const v = row.length;
  if (!(temperature > 0)) {
    let best = 1;
    for (let i = 2; i < v; i++) if (row[i]! > row[best]!) best = i;
    return best;
  }
  let max = -Infinity;
  for (let i = 1; i < v; i++) if (row[i]! > max) max = row[i]!;
  const probs = new Float64Array(v);
  let sum = 0;
  for (let i = 1; i < v; i++) {
    probs[i] = Math.exp((row[i]! - max) / temperature);
    sum += probs[i]!;
  }
  if (!(topP > 0 && topP < 1)) {
    // Plain sampling: no sort needed.
    let u = rng.float() * sum;
    for (let i = 1; i < v; i++) {
      u -= probs[i]!;
      if (u <= 0) return i;
    }
    let last = v - 1;
    while (last > 1 && probs[last] === 0) last--;
    return last;
  }
  const limit = topP * sum;
  const order = topTokens(probs, limit) ?? sortedTokens(probs);
  const { cut, kept } = nucleusOf(probs, limit, order);
  let u = rng.float() * kept;
  for (let i = 0; i < cut; i++) {
    u -= probs[order[i]!]!;
    if (u <= 0) return order[i]!;
  }
  return order[cut - 1]!;
}

/** Most tokens `topTokens` picks one by one before it sorts them all instead. */
const NUCLEUS_PICKS = 16;

/**
 * The most likely tokens (id ≥ 1) in order of probability, then id, one scan each, until they
 * hold `limit`; undefined when that takes more than NUCLEUS_PICKS of them. A peaked distribution
 * reaches top-p in a few tokens, where sorting the whole vocabulary for every token was most of
 * a sample's cost.
 */
function topTokens(probs: Float64Array, limit: number): number[] | undefined {
  const out: number[] = [];
  let kept = 0;
  let lastP = Infinity;
  let lastI = -1;
  while (out.length < NUCLEUS_PICKS) {
    let best = -1;
    let bestP = -1;
    for (let i = 1; i < probs.length; i++) {
      const p = probs[i]!;
      // Skip what is already taken: earlier in the order than the last pick, or the pick itself.
      if (p > lastP || (p === lastP && i <= lastI)) continue;
      if (p > bestP) {
        bestP = p;
        best = i;
      }
    }
    if (best < 0) return undefined;
    out.push(best);
    kept += bestP;
    if (kept >= limit) return out;
    lastP = bestP;
    lastI = best;
  }
  return undefined;
}

/** Every token (id ≥ 1) in order of probability, then id. */
function sortedTokens(probs: Float64Array): Int32Array {
  const order = new Int32Array(probs.length - 1);
  for (let i = 1; i < probs.length; i++) order[i - 1] = i;
  return order.sort((x, y) => probs[y]! - probs[x]! || x - y);
}

/** The nucleus of `order`: its shortest prefix whose probabilities add up to `limit` (all of it if none). */
function nucleusOf(probs: Float64Array, limit: number, order: ArrayLike<number>): { cut: number; kept: number } {
  let kept = 0;
  for (let i = 0; i < order.length; i++) {
    kept += probs[order[i]!]!;
    if (kept >= limit) return { cut: i + 1, kept };
  }
  return { cut: order.length, kept };
}
