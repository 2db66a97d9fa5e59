/**
 * Synchronous data-parallel training over worker threads (TF.js's wasm backend runs one thread
 * per instance, so a second core needs a second instance: each Deno Worker gets its own).
 *
 * Every replica holds the same weights. Per step, the batch's rows are dealt round-robin to the
 * replicas (the batch is sorted by length, so every part pads to about the same length); each
 * part's loss is its own mean weighted by its share of the batch's loss units (loss-carrying
 * tokens, or examples), so the parts' gradients sum to the full batch's gradient. The workers
 * post their gradients as one flat Float32Array; this side sums them (in a fixed order) and
 * posts the sum back, and every replica applies the same clipped Adam step to the same numbers,
 * so the weights stay bit-identical (checked once at the end). Applying on every replica costs
 * no wall time, since they run in parallel; posting new weights instead would add a read and a
 * write of every weight to each step.
 *
 * Messages (this side → worker): `init` (backend, job, weights, weight decay, Adam's state when
 * resuming; answered `ready`),
 * `grads` (row indices and share; answered with the flat gradient and loss), `apply` (the summed
 * gradient, learning rate and clip; no answer) and `weights` (answered with the flat weights).
 * A worker that fails answers `error`; the next wait on it throws.
 */
import * as tf from "@tensorflow/tfjs";
import { type AdamState, batchLoss, type LossJob } from "./train.ts";
import type { Params } from "./transformer.ts";

/** A message to a training worker. */
export type ToWorker =
  | {
    readonly type: "init";
    readonly backend: string;
    readonly job: LossJob;
    readonly weights: readonly { readonly name: string; readonly shape: number[]; readonly data: Float32Array }[];
    readonly weightDecay: number;
    /** Adam's state to continue from (a resumed run); absent: a fresh optimiser. */
    readonly adam?: AdamState;
  }
  | { readonly type: "grads"; readonly rows: readonly number[]; readonly share: number }
  | { readonly type: "apply"; readonly flat: Float32Array; readonly lr: number; readonly clip: number }
  | { readonly type: "weights" };

/** A training worker's answer. */
export type FromWorker =
  | { readonly type: "ready" }
  | { readonly type: "grads"; readonly flat: Float32Array; readonly loss: number }
  | { readonly type: "weights"; readonly flat: Float32Array }
  | { readonly type: "error"; readonly message: string };

/** Worker threads currently open (for tests: training must close all it opens). */
let open = 0;

/** How many training worker threads are open now. */
export function openTrainWorkers(): number {
  return open;
}

/** Deals `batch` round-robin into `n` parts. */
export function splitRows(batch: readonly number[], n: number): number[][] {
  const parts: number[][] = Array.from({ length: n }, () => []);
  batch.forEach((row, i) => parts[i % n]!.push(row));
  return parts;
}

/** Copies each variable's gradient (zeros where there is none) into one flat array, in `vars` order. */
function flatten(vars: readonly tf.Variable[], grads: tf.NamedTensorMap, size: number): Float32Array<ArrayBuffer> {
  const flat = new Float32Array(size);
  let off = 0;
  for (const v of vars) {
    const g = grads[v.name];
    if (g !== undefined) flat.set(g.dataSync() as Float32Array, off);
    off += v.size;
  }
  return flat;
}

/** Tensors (keyed by variable name) over slices of `flat`, in `vars` order. */
export function unflatten(vars: readonly tf.Variable[], flat: Float32Array): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  let off = 0;
  for (const v of vars) {
    out[v.name] = tf.tensor(flat.subarray(off, off + v.size), v.shape);
    off += v.size;
  }
  return out;
}

/** The gradients of a part of a batch, its loss weighted by `share`, on this thread. */
export function partGrads(
  job: LossJob,
  params: Params,
  vars: tf.Variable[],
  rows: readonly number[],
  share: number,
  size: number,
): { flat: Float32Array<ArrayBuffer>; loss: number } {
  const part = batchLoss(job, params, rows);
  const { value, grads } = tf.variableGrads(() => tf.mul(part.loss(), share) as tf.Scalar, vars);
  const loss = (value.dataSync() as Float32Array)[0]!;
  const flat = flatten(vars, grads, size);
  tf.dispose([value, ...Object.values(grads)]);
  return { flat, loss };
}

/** One worker thread and the answer it owes. */
class Helper {
  private readonly worker: Worker;
  private waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private closed = false;

  constructor() {
    this.worker = new Worker(new URL("./trainWorker.ts", import.meta.url).href, { type: "module" });
    open++;
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === "error") this.fail(new Error(`Training worker failed: ${m.message}`));
      else this.settle((w) => w.resolve(m));
    };
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(new Error(`Training worker failed: ${e.message}`));
    };
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.settle((w) => w.reject(err));
  }

  private settle(f: (w: { resolve: (m: FromWorker) => void; reject: (e: Error) => void }) => void): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w !== undefined) f(w);
  }

  /** Posts a message (transferring `transfer`) without waiting. */
  post(m: ToWorker, transfer: Transferable[] = []): void {
    if (this.failure !== undefined) throw this.failure;
    this.worker.postMessage(m, transfer);
  }

  /** Posts a message and waits for its answer. */
  ask<T extends FromWorker["type"]>(m: ToWorker, type: T, transfer: Transferable[] = []): Promise<Extract<FromWorker, { type: T }>> {
    this.post(m, transfer);
    return new Promise<FromWorker>((resolve, reject) => (this.waiting = { resolve, reject })).then((a) => {
      if (a.type !== type) throw new Error(`Training worker answered ${a.type}, expected ${type}`);
      return a as Extract<FromWorker, { type: T }>;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.terminate();
    open--;
    this.fail(new Error("Training worker closed"));
  }
}

/** The replicas of one training run, as `runLoop` drives them. */
export interface Replicas {
  /** The loss, tokens and summed gradients of `batch` over all replicas. */
  grads(batch: readonly number[]): Promise<{ loss: number; tokens: number; grads: tf.NamedTensorMap }>;
  /** Has every worker apply the last summed gradients (call before this side's own Adam step). */
  apply(lr: number, clip: number): void;
  /** Throws unless every worker's weights equal this side's bit for bit. */
  verify(): Promise<void>;
  /** Terminates the workers (idempotent). */
  close(): void;
}

/**
 * Starts `workers − 1` worker threads holding copies of `params` (and of `adam`, the optimiser
 * state this side continues from, when resuming) and returns the replica set; the caller must
 * `close` it (also when training throws).
 */
export async function startReplicas(
  params: Params,
  job: LossJob,
  workers: number,
  weightDecay: number,
  adam?: AdamState,
): Promise<Replicas> {
  const vars = [...params.values()];
  const size = vars.reduce((a, v) => a + v.size, 0);
  const helpers: Helper[] = [];
  try {
    for (let i = 1; i < workers; i++) helpers.push(new Helper());
    const backend = tf.getBackend();
    await Promise.all(helpers.map((h) => {
      // A copy: some backends hand out their own storage, which a transfer would detach.
      const weights = [...params].map(([name, v]) => ({ name, shape: v.shape, data: new Float32Array(v.dataSync()) }));
      return h.ask({ type: "init", backend, job, weights, weightDecay, ...(adam ? { adam } : {}) }, "ready", weights.map((w) => w.data.buffer));
    }));
  } catch (err) {
    for (const h of helpers) h.close();
    throw err;
  }
  let summed: Float32Array | undefined;
  return {
    async grads(batch) {
      const parts = splitRows(batch, workers);
      const shapes = parts.map((rows) => (rows.length > 0 ? batchLoss(job, params, rows) : undefined));
      const totalWeight = shapes.reduce((a, p) => a + (p?.weight ?? 0), 0);
      const shares = shapes.map((p) => (p === undefined ? 0 : totalWeight > 0 ? p.weight / totalWeight : 1 / workers));
      const pending = helpers.map((h, i) =>
        parts[i + 1]!.length > 0 ? h.ask({ type: "grads", rows: parts[i + 1]!, share: shares[i + 1]! }, "grads") : undefined
      );
      // A failed worker's rejection is taken up below; keep it from surfacing as unhandled meanwhile.
      for (const p of pending) p?.catch(() => {});
      const own = partGrads(job, params, vars, parts[0]!, shares[0]!, size);
      const sum = own.flat;
      let loss = own.loss;
      for (const p of pending) {
        if (p === undefined) continue;
        const { flat, loss: l } = await p;
        for (let i = 0; i < size; i++) sum[i]! += flat[i]!;
        loss += l;
      }
      summed = sum;
      return { loss, tokens: shapes.reduce((a, p) => a + (p?.tokens ?? 0), 0), grads: unflatten(vars, sum) };
    },
    apply(lr, clip) {
      if (summed === undefined) throw new Error("No gradients to apply");
      // Posted as a copy: this side's gradient tensors may share its storage (cpu backend).
      for (const h of helpers) h.post({ type: "apply", flat: summed, lr, clip });
      summed = undefined;
    },
    async verify() {
      const mine = new Float32Array(size);
      let off = 0;
      for (const v of vars) {
        mine.set(v.dataSync() as Float32Array, off);
        off += v.size;
      }
      for (const h of helpers) {
        const { flat } = await h.ask({ type: "weights" }, "weights");
        const bad = mine.findIndex((x, i) => !Object.is(x, flat[i]));
        if (bad >= 0) {
          throw new Error(`Data-parallel replicas diverged (weight ${bad}: ${mine[bad]} vs ${flat[bad]}); train with workers: 1`);
        }
      }
    },
    close() {
      for (const h of helpers) h.close();
    },
  };
}
