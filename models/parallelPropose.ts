/**
 * Step generation on more than one core. TF.js's wasm backend runs one thread per instance, so a
 * policy's `propose` calls are shared between this thread and worker threads holding copies of the
 * same weights (models/proposeWorker.ts). A call's requests are dealt out whole and in order, each
 * part carrying about the same number of sample rows; the workers' parts are posted first, this
 * thread computes its own part meanwhile, and the answers are put back in request order. A
 * request's candidates depend only on its own fields and the weights (its samples draw from its
 * own seed, and a row's logits do not depend on the other rows of the batch), so how a call is
 * split changes no candidate; their log-probabilities can differ in the last digits, as they do
 * between batches of different sizes on one thread (padding changes the order of float sums).
 *
 * Calls with fewer than `minRows` sample rows stay on this thread. A worker that fails is dropped:
 * its part, and every later one, is computed here, so generation slows down and nothing is lost.
 *
 * Messages (this side → worker): `init` (backend, sizes, tokenizer, weights; answered `ready`) and
 * `propose` (an id and the requests; answered `proposed` with the candidates, or `failed`). A
 * worker that cannot handle a message at all answers `error`.
 */
import * as tf from "@tensorflow/tfjs";
import type { ProposedStep, ProposeRequest, StepProposer } from "../math/contracts.ts";
import type { TinyPolicy } from "./policy.ts";
import type { TokenizerJSON } from "./tokenizer.ts";
import type { PolicyConfig } from "./transformer.ts";

/** A message to a generation worker. */
export type ToProposeWorker =
  | {
    readonly type: "init";
    readonly backend: string;
    readonly config: PolicyConfig;
    readonly tokenizer: TokenizerJSON;
    readonly weights: readonly {
      readonly name: string;
      readonly shape: number[];
      readonly data: Float32Array;
    }[];
    readonly version: string;
  }
  | { readonly type: "propose"; readonly id: number; readonly requests: readonly ProposeRequest[] };

/** A generation worker's answer. */
export type FromProposeWorker =
  | { readonly type: "ready" }
  | { readonly type: "proposed"; readonly id: number; readonly out: ProposedStep[][] }
  | { readonly type: "failed"; readonly id: number; readonly message: string }
  | { readonly type: "error"; readonly message: string };

/** Worker threads currently open (for tests: every one opened must be closed). */
let open = 0;

/** How many generation worker threads are open now. */
export function openProposeWorkers(): number {
  return open;
}

/**
 * Deals requests, whole and in order, into at most `parts` groups of about equal sample rows
 * (a request's `k`); returns each group's start index, the first being 0.
 */
export function dealRequests(
  requests: readonly Pick<ProposeRequest, "k">[],
  parts: number,
): number[] {
  const rows = requests.reduce((a, r) => a + Math.max(0, r.k), 0);
  const starts = [0];
  let acc = 0;
  requests.forEach((r, i) => {
    if (i > 0 && starts.length < parts && acc >= (rows * starts.length) / parts) starts.push(i);
    acc += Math.max(0, r.k);
  });
  return starts;
}

/** One worker thread with its outstanding calls. */
class Helper {
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (out: ProposedStep[][]) => void; reject: (e: Error) => void }
  >();
  private next = 0;
  private closed = false;
  /** Set once the worker failed; every later call rejects with it. */
  failure: Error | undefined;
  readonly ready: Promise<void>;

  constructor(init: ToProposeWorker) {
    this.worker = new Worker(new URL("./proposeWorker.ts", import.meta.url).href, {
      type: "module",
    });
    open++;
    let started!: () => void;
    let refused!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      refused = reject;
    });
    this.worker.onmessage = (e: MessageEvent<FromProposeWorker>) => {
      const m = e.data;
      if (m.type === "ready") started();
      else if (m.type === "error") {
        this.fail(new Error(`Generation worker failed: ${m.message}`));
        refused(this.failure!);
      } else {
        const w = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.type === "proposed") w?.resolve(m.out);
        else w?.reject(new Error(`Generation worker failed: ${m.message}`));
      }
    };
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(new Error(`Generation worker failed: ${e.message}`));
      refused(this.failure!);
    };
    this.worker.postMessage(init);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.pending.values()) w.reject(this.failure);
    this.pending.clear();
  }

  propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise<ProposedStep[][]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: "propose", id, requests } satisfies ToProposeWorker);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error("Generation worker closed"));
    this.worker.terminate();
    open--;
  }
}

/** Options of `ThreadedPolicy.start`. */
export interface ThreadedOptions {
  /** Threads generating in all, this one included (1: no workers). */
  readonly threads: number;
  /** Calls with fewer sample rows stay on this thread (default 16: below that, splitting gains nothing). */
  readonly minRows?: number;
  /** The workers' TF.js backend (default: this thread's). */
  readonly backend?: string;
}

/** A TinyPolicy whose `propose` calls run on several threads (see the module comment). */
export class ThreadedPolicy implements StepProposer {
  readonly name = "tiny";
  private helpers: Helper[];
  private readonly minRows: number;
  /** Calls shared with the workers so far (the others ran on this thread alone). */
  splitCalls = 0;

  private constructor(readonly policy: TinyPolicy, helpers: Helper[], minRows: number) {
    this.helpers = helpers;
    this.minRows = minRows;
  }

  /**
   * Starts `threads − 1` workers holding copies of `policy`'s weights (the policy stays owned by
   * the result: `dispose` frees it). A worker that cannot start is left out.
   */
  static async start(policy: TinyPolicy, options: ThreadedOptions): Promise<ThreadedPolicy> {
    const n = Math.max(0, Math.floor(options.threads) - 1);
    const helpers: Helper[] = [];
    if (n > 0) {
      const init: ToProposeWorker = {
        type: "init",
        backend: options.backend ?? tf.getBackend(),
        config: policy.config,
        tokenizer: policy.tokenizer.toJSON(),
        weights: [...policy.params].map(([name, v]) => ({
          name,
          shape: v.shape,
          data: v.dataSync() as Float32Array,
        })),
        version: policy.version,
      };
      for (let i = 0; i < n; i++) helpers.push(new Helper(init));
      const started = await Promise.allSettled(helpers.map((h) => h.ready));
      started.forEach((s, i) => {
        if (s.status === "rejected") helpers[i]!.close();
      });
    }
    return new ThreadedPolicy(
      policy,
      helpers.filter((h) => h.failure === undefined),
      options.minRows ?? 16,
    );
  }

  /** Version of the weights (the wrapped policy's). */
  get version(): string {
    return this.policy.version;
  }

  set version(v: string) {
    this.policy.version = v;
  }

  /** Threads generating now, this one included. */
  get threads(): number {
    return this.helpers.length + 1;
  }

  async propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    const rows = requests.reduce((a, r) => a + Math.max(0, r.k), 0);
    const helpers = this.helpers;
    if (helpers.length === 0 || rows < this.minRows) return this.policy.proposeSync(requests);
    const starts = dealRequests(requests, helpers.length + 1);
    if (starts.length > 1) this.splitCalls++;
    const parts = starts.map((s, i) => requests.slice(s, starts[i + 1] ?? requests.length));
    // Workers take the later parts, posted before this thread starts on the first.
    const remote = parts.slice(1).map((part, i) =>
      helpers[i]!.propose(part).catch(() => {
        this.helpers = this.helpers.filter((h) => h !== helpers[i]);
        helpers[i]!.close();
        return this.policy.proposeSync(part);
      })
    );
    const local = this.policy.proposeSync(parts[0]!);
    return [local, ...await Promise.all(remote)].flat();
  }

  /** Stops the workers; the wrapped policy stays usable (and owned by the caller again). */
  closeWorkers(): void {
    for (const h of this.helpers) h.close();
    this.helpers = [];
  }

  /** Stops the workers and frees the wrapped policy. */
  dispose(): void {
    this.closeWorkers();
    this.policy.dispose();
  }
}
