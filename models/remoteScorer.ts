/**
 * A `StepScorer` backed by a JSON-over-HTTP reward endpoint. The first (and default) shape is
 * vLLM's Pooling API (`vllm serve <reward model>`, `POST /pooling`):
 *
 * ```text
 * request:  {"model": "...", "input": ["<text 1>", "<text 2>", ...]}
 * reply:    {"object": "list", "data": [{"index": 0, "object": "pooling", "data": ...}, ...]}
 * ```
 *
 * where each item's `data` is a number, a vector (one value per label, e.g. `[score]` or
 * `[p_bad, p_good]`), or a matrix (one vector per token, as reward models with `ALL` pooling
 * return). The client reads the last row of a matrix, then element `pick` of the vector (default
 * the last), and maps the raw value into [−1, 1] with `transform`:
 * `tanh` (default, for unbounded logits), `sigmoid` (2σ(x) − 1), `prob` (2p − 1, for
 * probabilities) or `clip` (identity clipped to [−1, 1]).
 *
 * The scored text is the policy prompt with the candidate appended (`renderScoredText`).
 */
import type { ScoreItem, StepScorer } from "../math/contracts.ts";
import { Prng } from "../math/prng.ts";
import {
  defaultRetryOptions,
  mapBounded,
  postJson,
  realSleep,
  RemoteModelError,
  type RetryOptions,
  type Sleep,
} from "./remoteHttp.ts";
import { defaultPromptFormat, type PromptFormat, renderScoredText } from "./remotePrompt.ts";

/** How a raw model output becomes a score in [−1, 1]. */
export type ScoreTransform = "tanh" | "sigmoid" | "prob" | "clip";

/** Settings of a `RemoteScorer`; only `url` and `model` are required. */
export interface RemoteScorerOptions {
  /** Full endpoint URL, e.g. "http://127.0.0.1:8000/pooling". */
  readonly url: string;
  readonly model: string;
  /** Reply shape; "pooling" (vLLM's Pooling API) is the only one so far. */
  readonly shape?: "pooling";
  readonly transform?: ScoreTransform;
  /** Element of a per-item vector to read; negative counts from the end. Default −1. */
  readonly pick?: number;
  /** Texts per HTTP request; default 32. */
  readonly batchSize?: number;
  /** Most HTTP requests in flight per `score` call; default 4. */
  readonly concurrency?: number;
  readonly apiKey?: string;
  /** Version string recorded with results; default `remote:<model>`. */
  readonly version?: string;
  readonly prompt?: Partial<PromptFormat>;
  readonly retry?: Partial<RetryOptions>;
  /** Seed of the backoff jitter PRNG; default 0. */
  readonly jitterSeed?: number;
  /** Replaces the timer in tests. */
  readonly sleep?: Sleep;
}

/** Maps a raw value into [−1, 1]. */
export function transformScore(raw: number, transform: ScoreTransform): number {
  switch (transform) {
    case "tanh":
      return Math.tanh(raw);
    case "sigmoid":
      return 2 / (1 + Math.exp(-raw)) - 1;
    case "prob":
      return Math.min(1, Math.max(-1, 2 * raw - 1));
    case "clip":
      return Math.min(1, Math.max(-1, raw));
  }
}

/** Reads the raw value out of one item's `data` (number, vector, or per-token matrix). */
function readRaw(url: string, data: unknown, pick: number, position: number): number {
  let v: unknown = data;
  if (Array.isArray(v) && v.length > 0 && Array.isArray(v[v.length - 1])) v = v[v.length - 1];
  if (Array.isArray(v)) {
    const i = pick < 0 ? v.length + pick : pick;
    v = v[i];
  }
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new RemoteModelError(
      "Malformed",
      url,
      `Cannot read score from ${url}: data[${position}].data has no finite number at pick ${pick}`,
    );
  }
  return v;
}

/** Scores steps with a remote reward model. */
export class RemoteScorer implements StepScorer {
  readonly name = "remote";
  readonly version: string;
  private readonly format: PromptFormat;
  private readonly retry: RetryOptions;
  private readonly rng: Prng;
  private readonly sleep: Sleep;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: RemoteScorerOptions) {
    this.version = options.version ?? `remote:${options.model}`;
    this.format = { ...defaultPromptFormat, ...options.prompt };
    this.retry = { ...defaultRetryOptions, ...options.retry };
    this.rng = Prng.fromSeed(options.jitterSeed ?? 0);
    this.sleep = options.sleep ?? realSleep;
    this.headers = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  }

  /** One score in [−1, 1] per item, in order; rejects with `RemoteModelError` on failure. */
  async score(items: readonly ScoreItem[]): Promise<number[]> {
    if (items.length === 0) return [];
    const texts = items.map((it) => renderScoredText(it.problem, it.steps, it.candidate, this.format));
    const size = Math.max(1, this.options.batchSize ?? 32);
    const batches: string[][] = [];
    for (let i = 0; i < texts.length; i += size) batches.push(texts.slice(i, i + size));
    const results = await mapBounded(batches, this.options.concurrency ?? 4, (b) => this.scoreBatch(b));
    return results.flat();
  }

  private async scoreBatch(texts: readonly string[]): Promise<number[]> {
    const url = this.options.url;
    const json = await postJson(url, { model: this.options.model, input: texts }, {
      retry: this.retry,
      rng: this.rng,
      sleep: this.sleep,
      headers: this.headers,
    });
    const data = json !== null && typeof json === "object" ? (json as { data?: unknown }).data : undefined;
    if (!Array.isArray(data)) {
      throw new RemoteModelError("Malformed", url, `Cannot read reply from ${url}: no data array`);
    }
    if (data.length === 0) throw new RemoteModelError("Empty", url, `Cannot use reply from ${url}: data is empty`);
    if (data.length !== texts.length) {
      throw new RemoteModelError(
        "Malformed",
        url,
        `Cannot match reply from ${url}: ${data.length} scores for ${texts.length} inputs`,
      );
    }
    const out = new Array<number>(texts.length);
    const seen = new Set<number>();
    data.forEach((item, position) => {
      if (item === null || typeof item !== "object") {
        throw new RemoteModelError("Malformed", url, `Cannot read reply from ${url}: data[${position}] is not an object`);
      }
      const rec = item as { index?: unknown; data?: unknown };
      const index = typeof rec.index === "number" ? rec.index : position;
      if (!Number.isInteger(index) || index < 0 || index >= texts.length || seen.has(index)) {
        throw new RemoteModelError("Malformed", url, `Cannot match reply from ${url}: bad index ${String(rec.index)}`);
      }
      seen.add(index);
      const raw = readRaw(url, rec.data, this.options.pick ?? -1, position);
      out[index] = transformScore(raw, this.options.transform ?? "tanh");
    });
    return out;
  }
}
