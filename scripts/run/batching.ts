/**
 * Folding wrappers: concurrent `propose` (or `score`) calls made in the same turn of the event
 * loop are merged into one call of the wrapped model, so many problems searched side by side
 * share one batched forward pass. Each caller gets exactly its own slice of the result.
 */
import type { ProposedStep, ProposeRequest, ScoreItem, StepProposer, StepScorer } from "../../math/contracts.ts";

interface Pending<Req, Res> {
  readonly items: readonly Req[];
  resolve(out: Res[]): void;
  reject(err: unknown): void;
}

/** Collects calls and flushes them as one batch (split at `maxItems` by `weight`). */
class Folder<Req, Res> {
  private queue: Pending<Req, Res>[] = [];
  private scheduled = false;
  /** Wrapped-model calls made. */
  calls = 0;

  constructor(
    private readonly run: (items: readonly Req[]) => Promise<Res[]>,
    private readonly maxWeight: number,
    private readonly weight: (r: Req) => number,
  ) {}

  submit(items: readonly Req[]): Promise<Res[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<Res[]>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setTimeout(() => void this.flush(), 0);
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    // Group whole callers into chunks of at most maxWeight (a single large caller goes alone).
    const chunks: Pending<Req, Res>[][] = [];
    let cur: Pending<Req, Res>[] = [];
    let w = 0;
    for (const p of queue) {
      const pw = p.items.reduce((a, r) => a + this.weight(r), 0);
      if (cur.length > 0 && w + pw > this.maxWeight) {
        chunks.push(cur);
        cur = [];
        w = 0;
      }
      cur.push(p);
      w += pw;
    }
    if (cur.length > 0) chunks.push(cur);
    for (const chunk of chunks) {
      const all = chunk.flatMap((p) => p.items);
      try {
        this.calls++;
        const out = await this.run(all);
        let off = 0;
        for (const p of chunk) {
          p.resolve(out.slice(off, off + p.items.length));
          off += p.items.length;
        }
      } catch (err) {
        for (const p of chunk) p.reject(err);
      }
    }
  }
}

/** A StepProposer that folds concurrent calls into one call of `inner` (at most `maxSamples` rows). */
export class BatchingProposer implements StepProposer {
  /** Name of the wrapped proposer. */
  readonly name: string;
  private readonly folder: Folder<ProposeRequest, ProposedStep[]>;

  constructor(readonly inner: StepProposer, maxSamples = 256) {
    this.name = inner.name;
    this.folder = new Folder((reqs) => inner.propose(reqs), maxSamples, (r) => Math.max(1, r.k));
  }

  /** Version of the wrapped proposer. */
  get version(): string {
    return this.inner.version;
  }

  /** Calls made to the wrapped proposer so far. */
  get calls(): number {
    return this.folder.calls;
  }

  /** Queues the requests for the next folded call. */
  propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    return this.folder.submit(requests);
  }
}

/** A StepScorer that folds concurrent calls into one call of `inner`. */
export class BatchingScorer implements StepScorer {
  /** Name of the wrapped scorer. */
  readonly name: string;
  private readonly folder: Folder<ScoreItem, number>;

  constructor(readonly inner: StepScorer, maxItems = 256) {
    this.name = inner.name;
    this.folder = new Folder((items) => inner.score(items), maxItems, () => 1);
  }

  /** Version of the wrapped scorer. */
  get version(): string {
    return this.inner.version;
  }

  /** Queues the items for the next folded call. */
  score(items: readonly ScoreItem[]): Promise<number[]> {
    return this.folder.submit(items);
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight; results in input order. */
export { mapBounded as mapConcurrent } from "../../models/remoteHttp.ts";

/**
 * A StepProposer that remembers its answers: a request equal to an earlier one (same problem,
 * steps, k, temperature, top-p and seed) gets the earlier candidates without a model call. Sampling
 * is a function of those fields and the weights, so this changes no result; evaluation uses it to
 * let best-of-N by the PPM score the very solutions best-of-N by vote sampled (same N, same seeds)
 * instead of generating them again. Forgets everything past `maxEntries`.
 */
export class MemoProposer implements StepProposer {
  readonly name: string;
  private readonly memo = new Map<string, ProposedStep[]>();
  /** Requests answered from memory so far. */
  hits = 0;

  constructor(readonly inner: StepProposer, private readonly maxEntries = 200_000) {
    this.name = inner.name;
  }

  get version(): string {
    return this.inner.version;
  }

  async propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    const keys = requests.map((r) => JSON.stringify([r.problem, r.steps, r.k, r.temperature, r.topP, r.seed]));
    const missing: number[] = [];
    keys.forEach((k, i) => {
      if (!this.memo.has(k)) missing.push(i);
    });
    if (missing.length > 0) {
      const fresh = await this.inner.propose(missing.map((i) => requests[i]!));
      if (this.memo.size + missing.length > this.maxEntries) this.memo.clear();
      missing.forEach((i, j) => this.memo.set(keys[i]!, fresh[j] ?? []));
    }
    this.hits += requests.length - missing.length;
    return keys.map((k) => this.memo.get(k) ?? []);
  }
}
