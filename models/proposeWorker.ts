/**
 * A generation replica, run as a Deno Worker by models/parallelPropose.ts (protocol there): it
 * holds a copy of a policy's weights and answers `propose` messages with the policy's candidates.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend.ts";
import type { FromProposeWorker, ToProposeWorker } from "./parallelPropose.ts";
import { TinyPolicy } from "./policy.ts";
import { Tokenizer } from "./tokenizer.ts";
import type { Params } from "./transformer.ts";

/** The parts of the worker global scope used here. */
interface WorkerScope {
  onmessage: ((e: MessageEvent<ToProposeWorker>) => void) | null;
  postMessage(m: FromProposeWorker): void;
}

const scope = globalThis as unknown as WorkerScope;
let policy: TinyPolicy | undefined;

async function handle(m: ToProposeWorker): Promise<void> {
  if (m.type === "init") {
    await initBackend(m.backend, { quiet: true });
    const params: Params = new Map();
    for (const w of m.weights) {
      params.set(
        w.name,
        tf.tidy(() => tf.variable(tf.tensor(w.data, w.shape), false)),
      );
    }
    policy = new TinyPolicy(m.config, Tokenizer.fromJSON(m.tokenizer), params, m.version);
    scope.postMessage({ type: "ready" });
    return;
  }
  if (policy === undefined) throw new Error("not initialised");
  try {
    scope.postMessage({ type: "proposed", id: m.id, out: policy.proposeSync(m.requests) });
  } catch (err) {
    scope.postMessage({
      type: "failed",
      id: m.id,
      message: err instanceof Error ? err.message : String(err),
    });
  }
}

// Messages are handled one at a time, in order (init awaits the backend).
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e) => {
  queue = queue.then(() => handle(e.data)).catch((err) => {
    scope.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
  });
};
