/**
 * A `StepProposer` backed by any OpenAI-compatible `/v1/completions` endpoint (vLLM, llama.cpp
 * server, Ollama, SGLang). The prompt format is documented in `remotePrompt.ts`: problem plus the
 * steps so far, each closed by the step delimiter, which is also the stop sequence.
 *
 * One `ProposeRequest` becomes one HTTP request with `n = k` (or k requests with `n = 1` and
 * seeds `seed + i` when `maxN` is 1, for servers that ignore `n`); the requests of one `propose`
 * call run concurrently, at most `concurrency` at a time. Transient failures are retried with
 * exponential backoff and seeded jitter; everything else rejects with a `RemoteModelError`.
 *
 * @example
 * const policy = new OpenAIPolicy({ baseUrl: "http://127.0.0.1:8000", model: "qwen2.5-math-1.5b" });
 * const [candidates] = await policy.propose([{ problem, steps: [], k: 4, temperature: 0.7, topP: 0.95, seed: 1 }]);
 */
import type { ProposedStep, ProposeRequest, StepProposer } from "../math/contracts.ts";
import { Prng } from "../math/prng.ts";
import {
  defaultRetryOptions,
  joinUrl,
  mapBounded,
  postJson,
  realSleep,
  RemoteModelError,
  type RetryOptions,
  type Sleep,
} from "./remoteHttp.ts";
import { defaultPromptFormat, parseStep, type PromptFormat, renderPrompt } from "./remotePrompt.ts";

/** Settings of an `OpenAIPolicy`; only `baseUrl` and `model` are required. */
export interface OpenAIPolicyOptions {
  /** Server root, e.g. "http://127.0.0.1:8000" (the client appends `/v1/completions`). */
  readonly baseUrl: string;
  readonly model: string;
  /** Sent as `Authorization: Bearer ...` when set. */
  readonly apiKey?: string;
  /** Token cap for one step (`max_tokens`); default 256. */
  readonly maxTokens?: number;
  /** Most HTTP requests in flight per `propose` call; default 8. */
  readonly concurrency?: number;
  /** Largest `n` sent in one request; default unlimited. 1 = one request per sample. */
  readonly maxN?: number;
  /** Ask for per-token logprobs (needed for `ProposedStep.logprob`); default true. */
  readonly logprobs?: boolean;
  /** Version string recorded with results; default `openai:<model>`. */
  readonly version?: string;
  readonly prompt?: Partial<PromptFormat>;
  readonly retry?: Partial<RetryOptions>;
  /** Seed of the jitter PRNG (backoff only; sampling uses each request's seed). Default 0. */
  readonly jitterSeed?: number;
  /** Replaces the timer in tests. */
  readonly sleep?: Sleep;
}

interface CompletionChoice {
  readonly text: string;
  readonly index: number;
  readonly logprob: number;
  readonly tokens?: number;
}

/** Reads one `choices[i]` entry; throws `Malformed` when it is not the documented shape. */
function readChoice(url: string, raw: unknown, position: number): CompletionChoice {
  if (raw === null || typeof raw !== "object" || typeof (raw as { text?: unknown }).text !== "string") {
    throw new RemoteModelError("Malformed", url, `Cannot read reply from ${url}: choices[${position}].text is not a string`);
  }
  const c = raw as { text: string; index?: unknown; logprobs?: unknown };
  let logprob = 0;
  let tokens: number | undefined;
  if (c.logprobs !== null && typeof c.logprobs === "object") {
    const lp = c.logprobs as { token_logprobs?: unknown; tokens?: unknown };
    if (Array.isArray(lp.token_logprobs)) {
      for (const x of lp.token_logprobs) if (typeof x === "number" && Number.isFinite(x)) logprob += x;
      tokens = lp.token_logprobs.length;
    }
    if (Array.isArray(lp.tokens)) tokens = lp.tokens.length;
  }
  return { text: c.text, index: typeof c.index === "number" ? c.index : position, logprob, tokens };
}

/** Proposes steps by sampling an OpenAI-compatible completions endpoint. */
export class OpenAIPolicy implements StepProposer {
  readonly name = "openai";
  readonly version: string;
  private readonly url: string;
  private readonly format: PromptFormat;
  private readonly retry: RetryOptions;
  private readonly rng: Prng;
  private readonly sleep: Sleep;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: OpenAIPolicyOptions) {
    this.version = options.version ?? `openai:${options.model}`;
    this.url = joinUrl(options.baseUrl, "/v1/completions");
    this.format = { ...defaultPromptFormat, ...options.prompt };
    this.retry = { ...defaultRetryOptions, ...options.retry };
    this.rng = Prng.fromSeed(options.jitterSeed ?? 0);
    this.sleep = options.sleep ?? realSleep;
    this.headers = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  }

  /** k candidate next steps per request; rejects with `RemoteModelError` when a request fails. */
  async propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    const maxN = Math.max(1, this.options.maxN ?? Number.POSITIVE_INFINITY);
    // Split each request into HTTP calls of at most maxN samples; seeds stay distinct per call.
    const calls: { req: number; n: number; seed: number }[] = [];
    requests.forEach((r, req) => {
      const k = Math.max(1, r.k);
      for (let done = 0, part = 0; done < k; part++) {
        const n = Math.min(maxN, k - done);
        calls.push({ req, n, seed: r.seed + part });
        done += n;
      }
    });
    const replies = await mapBounded(calls, this.options.concurrency ?? 8, (call) =>
      this.complete(requests[call.req]!, call.n, call.seed));
    const out: ProposedStep[][] = requests.map(() => []);
    calls.forEach((call, i) => out[call.req]!.push(...replies[i]!));
    return out;
  }

  private async complete(req: ProposeRequest, n: number, seed: number): Promise<ProposedStep[]> {
    const body: Record<string, unknown> = {
      model: this.options.model,
      prompt: renderPrompt(req.problem, req.steps, this.format),
      n,
      temperature: req.temperature,
      top_p: req.topP,
      seed,
      max_tokens: this.options.maxTokens ?? 256,
      stop: [this.format.delimiter],
    };
    if (this.options.logprobs ?? true) body.logprobs = 1;
    const json = await postJson(this.url, body, {
      retry: this.retry,
      rng: this.rng,
      sleep: this.sleep,
      headers: this.headers,
    });
    if (json === null || typeof json !== "object" || !Array.isArray((json as { choices?: unknown }).choices)) {
      throw new RemoteModelError("Malformed", this.url, `Cannot read reply from ${this.url}: no choices array`);
    }
    const rawChoices = (json as { choices: unknown[] }).choices;
    if (rawChoices.length === 0) {
      throw new RemoteModelError("Empty", this.url, `Cannot use reply from ${this.url}: choices is empty`);
    }
    const choices = rawChoices.map((c, i) => readChoice(this.url, c, i)).sort((a, b) => a.index - b.index);
    const usage = (json as { usage?: { completion_tokens?: unknown } }).usage;
    const usageTokens = typeof usage?.completion_tokens === "number" ? usage.completion_tokens : undefined;
    const steps: ProposedStep[] = [];
    for (const choice of choices) {
      const step = parseStep(choice.text, this.format.delimiter);
      if (step === undefined) continue;
      const tokens = choice.tokens ??
        (usageTokens !== undefined ? Math.round(usageTokens / choices.length) : Math.ceil(choice.text.length / 4));
      steps.push({ ...step, logprob: choice.logprob, tokens });
    }
    if (steps.length === 0) {
      throw new RemoteModelError(
        "Empty",
        this.url,
        `Cannot use reply from ${this.url}: all ${choices.length} completions are blank`,
      );
    }
    return steps;
  }
}
