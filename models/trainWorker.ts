/**
 * A data-parallel training replica, run as a Deno Worker by models/parallelTrain.ts (protocol
 * there): it holds a copy of the weights, computes the gradients of the batch parts it is sent,
 * and applies the summed gradients with its own Adam state, exactly as the main replica does.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend.ts";
import { type FromWorker, partGrads, type ToWorker, unflatten } from "./parallelTrain.ts";
import { Adam, type LossJob } from "./train.ts";
import type { Params } from "./transformer.ts";

/** The parts of the worker global scope used here. */
interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

interface Replica {
  readonly job: LossJob;
  readonly params: Params;
  readonly vars: tf.Variable[];
  readonly size: number;
  readonly adam: Adam;
}

let replica: Replica | undefined;

function ready(): Replica {
  if (replica === undefined) throw new Error("not initialised");
  return replica;
}

async function handle(m: ToWorker): Promise<void> {
  if (m.type === "init") {
    await initBackend(m.backend, { quiet: true });
    const params: Params = new Map();
    for (const w of m.weights) params.set(w.name, tf.tidy(() => tf.variable(tf.tensor(w.data, w.shape), true)));
    const vars = [...params.values()];
    const adam = new Adam(params, m.weightDecay);
    if (m.adam) adam.restore(m.adam);
    replica = { job: m.job, params, vars, size: vars.reduce((a, v) => a + v.size, 0), adam };
    scope.postMessage({ type: "ready" });
  } else if (m.type === "grads") {
    const r = ready();
    const { flat, loss } = partGrads(r.job, r.params, r.vars, m.rows, m.share, r.size);
    scope.postMessage({ type: "grads", flat, loss }, [flat.buffer]);
  } else if (m.type === "apply") {
    const r = ready();
    const grads = unflatten(r.vars, m.flat);
    try {
      r.adam.apply(grads, m.lr, m.clip);
    } finally {
      tf.dispose(Object.values(grads));
    }
  } else {
    const r = ready();
    const flat = new Float32Array(r.size);
    let off = 0;
    for (const v of r.vars) {
      flat.set(v.dataSync() as Float32Array, off);
      off += v.size;
    }
    scope.postMessage({ type: "weights", flat }, [flat.buffer]);
  }
}

// Messages are handled one at a time, in order (init awaits the backend).
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e) => {
  queue = queue.then(() => handle(e.data)).catch((err) => {
    scope.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
  });
};
