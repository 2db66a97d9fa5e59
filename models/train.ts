/**
 * Training loops for the TF.js models, written top to bottom: batch, forward, loss, backward,
 * clip, Adam step, report. Steps return plain numbers; no tensor outlives its function.
 *
 * - `trainPolicy`: supervised fine-tuning on verified trajectories; cross-entropy on the solution
 *   tokens only (the problem is context, not a target).
 * - `trainScorer`: the reward models — PPM by Bradley–Terry on preference pairs
 *   (−log σ(r⁺ − r⁻) on raw head outputs), ORM by logistic loss on whole-solution outcomes
 *   (score tanh(r) = 2σ(2r) − 1, so the target probability is (label + 1) / 2), and Q-regression
 *   by MSE between tanh(r) and the Q-value.
 *
 * Batches group sequences of similar length (padding is wasted work: attention cost grows with
 * the padded length), in a seeded order.
 *
 * With `workers: n > 1` (default: the RSTAR_TRAIN_WORKERS environment variable, else 1) each
 * batch is split across this thread and n − 1 worker threads that hold identical weights
 * (synchronous data parallelism, models/parallelTrain.ts); the losses are built by `batchLoss`
 * from a `LossJob`, the same on both sides.
 */
import * as tf from "@tensorflow/tfjs";
import type { Step } from "../math/contracts.ts";
import { Prng } from "../math/prng.ts";
import type { TinyPolicy } from "./policy.ts";
import { batchTensors, rawScores, type TinyScorer } from "./ppm.ts";
import process from "node:process";
import { PAD } from "./tokenizer.ts";
import type { Replicas } from "./parallelTrain.ts";
import type { F32Tensor } from "./safetensors.ts";
import { hashChunks, type TrainState } from "./trainState.ts";
import { forwardTrain, logitsOf, type Params, type PolicyConfig } from "./transformer.ts";

/** A problem with a solution to imitate. */
export interface SftExample {
  readonly problem: string;
  readonly steps: readonly Step[];
}

/** At a shared prefix `steps`, `chosen` is preferred over `rejected`. */
export interface PairExample {
  readonly problem: string;
  readonly steps: readonly Step[];
  readonly chosen: Step;
  readonly rejected: Step;
}

/** A whole solution (`steps`, non-empty) with its outcome: +1 correct, −1 wrong. */
export interface OutcomeExample {
  readonly problem: string;
  readonly steps: readonly Step[];
  readonly label: number;
}

/** A candidate step after `steps` with its search Q-value in [−1, 1]. */
export interface QExample {
  readonly problem: string;
  readonly steps: readonly Step[];
  readonly candidate: Step;
  readonly q: number;
}

/** Progress report after every optimiser step. */
export interface TrainProgress {
  readonly epoch: number;
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly tokPerS: number;
}

/** Options shared by both trainers. */
export interface TrainOptions {
  readonly epochs: number;
  /** Sequences per batch (a preference pair counts as one, i.e. two sequences). */
  readonly batchSize: number;
  /** Peak learning rate (linear warm-up, cosine decay to 10%). */
  readonly lr: number;
  readonly seed: number;
  /** Global gradient-norm clip (default 1). */
  readonly clip?: number;
  /** Decoupled weight decay (default 0). */
  readonly weightDecay?: number;
  /** Stop after this many seconds (checked between steps). The result depends on the machine's speed. */
  readonly maxSeconds?: number;
  /**
   * Stop after this many optimiser steps; the learning-rate schedule then spans them instead of
   * all the epochs. Unlike `maxSeconds`, the same data, seed and step count give the same weights
   * however fast the machine.
   */
  readonly maxSteps?: number;
  /**
   * Threads computing each batch's gradients (synchronous data parallelism): 1 trains on this
   * thread only, n > 1 adds n − 1 worker threads. Default: RSTAR_TRAIN_WORKERS, else 1.
   */
  readonly workers?: number;
  /**
   * Saves the run's state (weights, optimiser, position in the data) as it trains and resumes
   * from a saved one: a run killed part-way and started again with the same data, options and
   * initial weights continues from its last save to the same weights as a run never killed.
   */
  readonly checkpoints?: TrainCheckpoints;
  /**
   * Called once before the first step (worker threads included) with the steps planned, and
   * how many of them a resumed run had already taken.
   */
  onStart?(steps: number, done: number): void;
  onProgress?(p: TrainProgress): void;
}

/** Where a training run keeps its state (see `TrainOptions.checkpoints`). */
export interface TrainCheckpoints {
  /** Training seconds between two saves (0: after every step); the end of the run is always saved. */
  readonly everySeconds: number;
  /** Names the training run in messages (e.g. "round 2 SFT"). */
  readonly label?: string;
  /** The state last saved by a run with this fingerprint, if any (a state of another run is not returned). */
  load(fingerprint: string): Promise<TrainState | undefined>;
  save(state: TrainState): Promise<void>;
}

/** Where a training run saved its state. */
export interface SavedAt {
  /** The run's `checkpoints.label`, if any. */
  readonly label?: string;
  readonly step: number;
  readonly total: number;
}

/** Training runs in progress that keep their state, each asked to save after its current step. */
const saveRequests = new Set<(saved: (at: SavedAt) => void) => void>();

/**
 * Asks every training run in progress that keeps its state (`checkpoints`) to save it after its
 * current step, for a stop that loses no training (SIGINT, SIGTERM). Resolves with where each
 * one saved, once all have or after `timeoutMs` with those that had.
 */
export function saveTrainingNow(timeoutMs = 5_000): Promise<SavedAt[]> {
  const out: SavedAt[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const all = Promise.all([...saveRequests].map((ask) => new Promise<void>((r) => ask((at) => (out.push(at), r())))));
  const late = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
  return Promise.race([all, late]).then(() => {
    clearTimeout(timer);
    return out;
  });
}

/** What a training run did. */
export interface TrainResult {
  /** Mean loss per epoch (the last one over the steps taken, when a step or time limit cut it short). */
  readonly losses: number[];
  /** Real (non-padding) tokens processed. */
  readonly tokens: number;
  readonly seconds: number;
  /** Optimiser steps taken. */
  readonly steps: number;
  /** Examples dropped because they do not fit the model's maxLen. */
  readonly skipped: number;
}

/** Learning rate at `step` of `total`: linear warm-up, then cosine decay to 10% of peak. */
export function lrAt(step: number, total: number, peak: number): number {
  const warm = Math.max(1, Math.min(20, Math.floor(total * 0.1)));
  if (step < warm) return (peak * (step + 1)) / warm;
  const p = Math.min(1, (step - warm) / Math.max(1, total - warm));
  return peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * p)));
}

/** Adam(W) state over a parameter map. */
export class Adam {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly byVarName = new Map<string, string>();
  private t = 0;
  constructor(private readonly params: Params, private readonly decay: number) {
    for (const [k, p] of params) {
      this.byVarName.set(p.name, k);
      // Variables share the initial tensor's storage; tidy frees the temporary handle.
      this.m.set(k, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(k, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /** Applies clipped gradients (keyed by TF variable name, as `tf.variableGrads` gives them) in place. */
  apply(grads: tf.NamedTensorMap, lr: number, clip: number): void {
    this.t++;
    const b1 = 0.9;
    const b2 = 0.98;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    tf.tidy(() => {
      const names = Object.keys(grads);
      const sq = names.map((k) => tf.sum(tf.square(grads[k]!)));
      const norm = tf.sqrt(tf.addN(sq));
      const scale = tf.div(clip, tf.maximum(norm, clip));
      for (const name of names) {
        const k = this.byVarName.get(name);
        if (k === undefined) throw new Error(`Gradient for unknown variable ${name}`);
        const p = this.params.get(k)!;
        const g = tf.mul(grads[name]!, scale);
        const m = this.m.get(k)!;
        const v = this.v.get(k)!;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        let upd = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), 1e-8));
        if (this.decay > 0 && p.rank >= 2) upd = tf.add(upd, tf.mul(p, this.decay));
        p.assign(tf.sub(p, tf.mul(upd, lr)));
      }
    });
  }

  /** The step count and moments, copied out (by parameter key). */
  state(): AdamState {
    return { steps: this.t, m: copyOut(this.m), v: copyOut(this.v) };
  }

  /** Continues from a `state()`; moments that do not fit the parameters are a RangeError. */
  restore(s: AdamState): void {
    for (const [vars, saved] of [[this.m, s.m], [this.v, s.v]] as const) {
      for (const [k, x] of vars) assignSaved(x, saved.get(k), `Adam moment ${k}`);
    }
    this.t = s.steps;
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}

/** Adam's step count and moments, by parameter key. */
export interface AdamState {
  readonly steps: number;
  readonly m: ReadonlyMap<string, F32Tensor>;
  readonly v: ReadonlyMap<string, F32Tensor>;
}

/** Copies of the variables' values, by key. */
function copyOut(vars: ReadonlyMap<string, tf.Variable>): Map<string, F32Tensor> {
  return new Map([...vars].map(([k, x]) => [k, { shape: x.shape, data: new Float32Array(x.dataSync() as Float32Array) }]));
}

/** Sets `x` to a saved tensor of the same shape (else a RangeError naming `what`). */
function assignSaved(x: tf.Variable, saved: F32Tensor | undefined, what: string): void {
  if (saved === undefined || saved.shape.join(",") !== x.shape.join(",")) {
    throw new RangeError(`Cannot resume training: ${what} has shape [${saved?.shape ?? "missing"}], expected [${x.shape}]`);
  }
  tf.tidy(() => x.assign(tf.tensor(saved.data, [...saved.shape])));
}

/** Identifies a training run: its examples, options, planned steps and initial weights. */
function fingerprintOf(job: LossJob, opts: TrainOptions, total: number, params: Params): string {
  const { epochs, batchSize, lr, seed, clip, weightDecay, maxSteps, maxSeconds } = opts;
  const head = JSON.stringify({ job, epochs, batchSize, lr, seed, clip, weightDecay, maxSteps, maxSeconds, total });
  const weights = [...params].map(([name, v]) => {
    const d = v.dataSync() as Float32Array;
    return [new TextEncoder().encode(name), new Uint8Array(d.buffer, d.byteOffset, d.byteLength)];
  });
  return hashChunks([new TextEncoder().encode(head), ...weights.flat()]);
}

/** Groups indices into batches of similar sequence length, in a seeded order. */
function makeBatches(lengths: readonly number[], batchSize: number, prng: Prng): number[][] {
  const order = prng.shuffle(lengths.map((_, i) => i));
  const batches: number[][] = [];
  const chunk = batchSize * 16;
  for (let i = 0; i < order.length; i += chunk) {
    const part = order.slice(i, i + chunk).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
    for (let j = 0; j < part.length; j += batchSize) batches.push(part.slice(j, j + batchSize));
  }
  return prng.shuffle(batches);
}

/** The number of training threads: `opts.workers`, else RSTAR_TRAIN_WORKERS, else 1. */
export function trainWorkers(opts: Pick<TrainOptions, "workers">): number {
  const env = process.env.RSTAR_TRAIN_WORKERS?.trim();
  const n = opts.workers ?? (env ? Number(env) : 1);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`Cannot train: workers must be a positive integer, got ${opts.workers ?? env}`);
  }
  return n;
}

/** The generic loop over a job's examples (`lengths[i]` sizes example i for batching). */
async function runLoop(
  params: Params,
  lengths: readonly number[],
  opts: TrainOptions,
  job: LossJob,
  skipped: number,
): Promise<TrainResult> {
  if (
    !(opts.epochs >= 0) || !(opts.batchSize >= 1) || !(opts.lr > 0) ||
    (opts.maxSteps !== undefined && !(Number.isInteger(opts.maxSteps) && opts.maxSteps >= 0))
  ) {
    throw new RangeError(
      `Cannot train: need epochs >= 0, batchSize >= 1, lr > 0, maxSteps a whole number >= 0, got ${JSON.stringify(opts)}`,
    );
  }
  const workers = trainWorkers(opts);
  const prng = Prng.fromSeed(opts.seed).fork("train");
  const perEpoch = Math.ceil(lengths.length / opts.batchSize);
  const total = Math.min(perEpoch * opts.epochs, opts.maxSteps ?? Infinity);
  const store = opts.checkpoints;
  // Taken before a saved state overwrites the initial weights.
  const fingerprint = store ? fingerprintOf(job, opts, total, params) : "";
  const adam = new Adam(params, opts.weightDecay ?? 0);
  let replicas: Replicas | undefined;
  const asked: ((at: SavedAt) => void)[] = [];
  const ask = (saved: (at: SavedAt) => void) => asked.push(saved);
  try {
    const saved = store ? await store.load(fingerprint) : undefined;
    if (saved) {
      for (const [k, x] of params) assignSaved(x, saved.params.get(k), `weight ${k}`);
      adam.restore({ steps: saved.adamSteps, m: saved.adamM, v: saved.adamV });
    }
    const vars = [...params.values()];
    const losses: number[] = saved ? [...saved.losses] : [];
    let tokens = saved?.tokens ?? 0;
    let step = saved?.step ?? 0;
    // Time limits and rates count the training time before a resume too.
    const t0 = performance.now() - (saved?.seconds ?? 0) * 1000;
    let lastSave = performance.now();
    if (store) saveRequests.add(ask);
    // The epoch the next step belongs to, its batches done, and their loss sum.
    let at = { epoch: saved?.epoch ?? 0, batch: saved?.batch ?? 0, sum: saved?.epochLossSum ?? 0, count: saved?.epochSteps ?? 0 };
    const save = async (finished: boolean) => {
      const a = adam.state();
      await store!.save({
        fingerprint,
        step,
        total,
        finished,
        epoch: at.epoch,
        batch: at.batch,
        losses: [...losses],
        epochLossSum: at.sum,
        epochSteps: at.count,
        tokens,
        seconds: (performance.now() - t0) / 1000,
        adamSteps: a.steps,
        params: copyOut(params),
        adamM: a.m,
        adamV: a.v,
      });
      lastSave = performance.now();
      for (const reply of asked.splice(0)) reply({ ...(store!.label ? { label: store!.label } : {}), step, total });
    };
    opts.onStart?.(total, step);
    const finished = saved?.finished ?? false;
    if (workers > 1 && total > 0 && !finished) {
      const { startReplicas } = await import("./parallelTrain.ts");
      replicas = await startReplicas(params, job, workers, opts.weightDecay ?? 0, saved ? adam.state() : undefined);
    }
    let outOfTime = false;
    for (let epoch = at.epoch; !finished && epoch < opts.epochs && !outOfTime && step < total; epoch++) {
      const batches = makeBatches(lengths, opts.batchSize, prng.fork(epoch));
      for (let b = at.batch; b < batches.length; b++) {
        if (step >= total) break;
        if (opts.maxSeconds !== undefined && (performance.now() - t0) / 1000 > opts.maxSeconds) {
          outOfTime = true;
          break;
        }
        const batch = batches[b]!;
        const { loss, tokens: n, grads } = replicas ? await replicas.grads(batch) : localGrads(params, vars, job, batch);
        // Under a time limit the schedule follows whichever runs out first, steps or seconds,
        // so a cut-short run still ends on a decayed learning rate.
        const timeStep = opts.maxSeconds === undefined
          ? 0
          : Math.floor((total * (performance.now() - t0)) / 1000 / opts.maxSeconds);
        const lr = lrAt(Math.max(step, timeStep), total, opts.lr);
        replicas?.apply(lr, opts.clip ?? 1);
        adam.apply(grads, lr, opts.clip ?? 1);
        tf.dispose(Object.values(grads));
        if (!Number.isFinite(loss)) throw new Error(`Training diverged: loss is ${loss} at step ${step}`);
        tokens += n;
        step++;
        at = { epoch, batch: b + 1, sum: at.sum + loss, count: at.count + 1 };
        const secs = (performance.now() - t0) / 1000;
        opts.onProgress?.({ epoch, step, steps: total, loss, tokPerS: tokens / Math.max(secs, 1e-9) });
        // Saved every `everySeconds`, and at once when asked (saveTrainingNow).
        const due = store !== undefined && (asked.length > 0 || performance.now() - lastSave >= store.everySeconds * 1000);
        if (due && step < total) await save(false);
        // Let other tasks in this process (actors, timers) run between steps.
        await new Promise((r) => setTimeout(r, 0));
      }
      // An epoch cut short by the time limit reports the mean over the steps it took.
      if (at.count > 0) losses.push(at.sum / at.count);
      at = { epoch: epoch + 1, batch: 0, sum: 0, count: 0 };
    }
    await replicas?.verify();
    if (store && !finished) await save(true);
    return { losses, tokens, seconds: (performance.now() - t0) / 1000, steps: step, skipped };
  } finally {
    saveRequests.delete(ask);
    adam.dispose();
    replicas?.close();
  }
}

/** One batch's loss value and gradients (keyed by TF variable name), on this thread. */
function localGrads(
  params: Params,
  vars: tf.Variable[],
  job: LossJob,
  batch: number[],
): { loss: number; tokens: number; grads: tf.NamedTensorMap } {
  const part = batchLoss(job, params, batch);
  const { value, grads } = tf.variableGrads(part.loss, vars);
  const loss = (value.dataSync() as Float32Array)[0]!;
  value.dispose();
  return { loss, tokens: part.tokens, grads };
}

/**
 * What a trainer trains on, as plain data (it is posted to training workers): the model's sizes
 * and the encoded examples of one loss kind.
 */
export type LossJob =
  | {
    readonly kind: "sft";
    readonly config: PolicyConfig;
    readonly vocab: number;
    readonly seqs: readonly { readonly ids: readonly number[]; readonly lossMask: readonly number[] }[];
  }
  | { readonly kind: "ppm"; readonly config: PolicyConfig; readonly pairs: readonly (readonly [number[], number[]])[] }
  | { readonly kind: "orm"; readonly config: PolicyConfig; readonly seqs: readonly number[][]; readonly ys: readonly number[] }
  | { readonly kind: "qreg"; readonly config: PolicyConfig; readonly seqs: readonly number[][]; readonly qs: readonly number[] };

/** A batch's loss, built lazily inside the gradient tape. */
export interface BatchLoss {
  /** The scalar loss: a mean over `weight` units (loss-carrying tokens, or examples). */
  readonly loss: () => tf.Scalar;
  /** Real (non-padding) tokens in the batch. */
  readonly tokens: number;
  /** What the loss averages over, so split batches can weight their parts by share. */
  readonly weight: number;
}

/** The loss of examples `batch` (indices into the job's examples) under `params`. */
export function batchLoss(job: LossJob, params: Params, batch: readonly number[]): BatchLoss {
  const c = job.config;
  if (job.kind === "sft") {
    const vocab = job.vocab;
    const seqs = batch.map((i) => job.seqs[i]!);
    const t = Math.max(...seqs.map((s) => s.ids.length)) - 1;
    const b = seqs.length;
    const inp = new Int32Array(b * t);
    const tgt = new Int32Array(b * t);
    const mask = new Float32Array(b * t);
    let n = 0;
    seqs.forEach((s, r) => {
      for (let j = 0; j < t; j++) {
        inp[r * t + j] = j < s.ids.length - 1 ? s.ids[j]! : PAD;
        if (j + 1 < s.ids.length) {
          tgt[r * t + j] = s.ids[j + 1]!;
          mask[r * t + j] = s.lossMask[j + 1]!;
          n++;
        }
      }
    });
    const weight = mask.reduce((a, x) => a + x, 0);
    const denom = Math.max(1, weight);
    return {
      tokens: n,
      weight,
      loss: () => {
        const ids = tf.tensor2d(inp, [b, t], "int32");
        const logp = tf.logSoftmax(logitsOf(params, forwardTrain(params, c, ids)));
        const onehot = tf.oneHot(tf.tensor1d(tgt, "int32"), vocab).asType("float32");
        const nll = tf.neg(tf.sum(tf.mul(logp, onehot), 1));
        return tf.div(tf.sum(tf.mul(nll, tf.tensor1d(mask))), denom) as tf.Scalar;
      },
    };
  }
  if (job.kind === "ppm") {
    const rows = batch.flatMap((i) => [job.pairs[i]![0], job.pairs[i]![1]]);
    return {
      tokens: rows.reduce((a, s) => a + s.length, 0),
      weight: batch.length,
      loss: () => {
        const { ids, last } = batchTensors(rows);
        const r = tf.reshape(rawScores(params, c, ids, last), [batch.length, 2]);
        const [pos, neg] = tf.split(r, 2, 1) as [tf.Tensor, tf.Tensor];
        return tf.mean(tf.softplus(tf.sub(neg, pos))) as tf.Scalar;
      },
    };
  }
  if (job.kind === "orm") {
    const ys = job.ys;
    return {
      tokens: batch.reduce((a, i) => a + job.seqs[i]!.length, 0),
      weight: batch.length,
      loss: () => {
        const { ids, last } = batchTensors(batch.map((i) => job.seqs[i]!));
        const r = rawScores(params, c, ids, last);
        // −log σ(2·y·r): logistic loss whose probability matches the tanh(r) score.
        return tf.mean(tf.softplus(tf.mul(r, tf.tensor1d(batch.map((i) => -2 * ys[i]!))))) as tf.Scalar;
      },
    };
  }
  return {
    tokens: batch.reduce((a, i) => a + job.seqs[i]!.length, 0),
    weight: batch.length,
    loss: () => {
      const { ids, last } = batchTensors(batch.map((i) => job.seqs[i]!));
      const s = tf.tanh(rawScores(params, c, ids, last));
      return tf.mean(tf.square(tf.sub(s, tf.tensor1d(batch.map((i) => job.qs[i]!))))) as tf.Scalar;
    },
  };
}

/** Supervised fine-tuning of the policy; loss on solution tokens only. */
export function trainPolicy(
  policy: TinyPolicy,
  examples: readonly SftExample[],
  opts: TrainOptions,
): Promise<TrainResult> {
  const c = policy.config;
  const encoded = examples.map((e) => policy.tokenizer.encodeExample(e.problem, e.steps));
  const fits = encoded.filter((e) => e.ids.length <= c.maxLen + 1 && e.ids.length >= 2);
  const job: LossJob = {
    kind: "sft",
    config: c,
    vocab: policy.tokenizer.size,
    seqs: fits.map((e) => ({ ids: e.ids, lossMask: e.lossMask })),
  };
  return runLoop(policy.params, fits.map((e) => e.ids.length), opts, job, examples.length - fits.length);
}

/**
 * Trains a reward model on the examples that match its kind: pairs for `ppm`, outcomes for
 * `orm`, Q-values for `qreg`. A kind mismatch is a caller bug (RangeError).
 */
export function trainScorer(
  scorer: TinyScorer,
  examples: readonly PairExample[] | readonly OutcomeExample[] | readonly QExample[],
  opts: TrainOptions,
): Promise<TrainResult> {
  const c = scorer.config;
  const p = scorer.params;
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new RangeError(`Cannot train ${scorer.kind} scorer: examples must be ${what}`);
  };
  if (scorer.kind === "ppm") {
    const ex = examples as readonly PairExample[];
    check(ex.every((e) => "chosen" in e && "rejected" in e), "preference pairs");
    const pairs = ex.map((e) => [
      scorer.encodeItem(e.problem, e.steps, e.chosen),
      scorer.encodeItem(e.problem, e.steps, e.rejected),
    ] as const);
    return runLoop(p, pairs.map((s) => Math.max(s[0].length, s[1].length)), opts, { kind: "ppm", config: c, pairs }, 0);
  }
  if (scorer.kind === "orm") {
    const ex = examples as readonly OutcomeExample[];
    check(ex.every((e) => "label" in e && e.steps.length > 0), "outcome examples with non-empty steps");
    const seqs = ex.map((e) => scorer.encodeItem(e.problem, e.steps.slice(0, -1), e.steps[e.steps.length - 1]!));
    const ys = ex.map((e) => (e.label > 0 ? 1 : -1));
    return runLoop(p, seqs.map((s) => s.length), opts, { kind: "orm", config: c, seqs, ys }, 0);
  }
  const ex = examples as readonly QExample[];
  check(ex.every((e) => "q" in e && "candidate" in e), "Q-value examples");
  const seqs = ex.map((e) => scorer.encodeItem(e.problem, e.steps, e.candidate));
  return runLoop(p, seqs.map((s) => s.length), opts, { kind: "qreg", config: c, seqs, qs: ex.map((e) => e.q) }, 0);
}
