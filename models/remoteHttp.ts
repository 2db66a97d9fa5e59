/**
 * Shared HTTP plumbing for the remote-model clients (`OpenAIPolicy`, `RemoteScorer`): one JSON
 * POST with a deadline, retried with exponential backoff and seeded jitter on transient failures
 * (429, 5xx, timeouts, connection errors), and one tagged error type for everything else.
 */
import { Prng } from "../math/prng.ts";

/** Why a remote model call failed. */
export type RemoteErrorReason =
  /** The server answered 4xx (other than 429): the request itself is wrong; retrying cannot help. */
  | "Refused"
  /** The reply was not the documented shape (bad JSON, missing fields, wrong lengths). */
  | "Malformed"
  /** The reply was well-formed but held nothing usable (no choices, only blank completions). */
  | "Empty"
  /** Transient failures (429, 5xx, timeouts, connection errors) outlasted every retry. */
  | "Unavailable";

/** A failed remote model call; `reason` says which kind, `status` the last HTTP status if any. */
export class RemoteModelError extends Error {
  readonly _tag = "RemoteModelError";
  constructor(
    readonly reason: RemoteErrorReason,
    readonly url: string,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RemoteModelError";
  }
}

/** Retry and deadline settings for one endpoint. */
export interface RetryOptions {
  /** Deadline for one attempt (request and body), in milliseconds. */
  readonly timeoutMs: number;
  /** Retries after the first attempt (0 = try once). */
  readonly maxRetries: number;
  /** First backoff delay in milliseconds; doubles each retry. */
  readonly backoffBaseMs: number;
  /** Cap on one backoff delay in milliseconds. */
  readonly backoffMaxMs: number;
}

/** Defaults suited to a local vLLM or llama.cpp server. */
export const defaultRetryOptions: RetryOptions = {
  timeoutMs: 60_000,
  maxRetries: 4,
  backoffBaseMs: 250,
  backoffMaxMs: 8_000,
};

/** Backoff before retry number `attempt` (0-based): base·2^attempt capped, with "equal jitter". */
export function backoffDelayMs(attempt: number, options: RetryOptions, rng: Prng): number {
  const cap = Math.min(options.backoffMaxMs, options.backoffBaseMs * 2 ** attempt);
  return cap / 2 + rng.float() * (cap / 2);
}

/** A sleep that the tests can replace. */
export type Sleep = (ms: number) => Promise<void>;

/** Real sleep on the timer. */
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What `postJson` needs beyond the URL and the body. */
export interface PostContext {
  readonly retry: RetryOptions;
  readonly rng: Prng;
  readonly sleep: Sleep;
  readonly headers?: Readonly<Record<string, string>>;
}

type Attempt =
  | { readonly kind: "ok"; readonly json: unknown }
  | { readonly kind: "transient"; readonly why: string; readonly status?: number; readonly retryAfterMs?: number }
  | { readonly kind: "fatal"; readonly error: RemoteModelError };

/** Reads a server's error message from OpenAI's `{error: {message}}` or vLLM's `{message}` shape. */
function serverMessage(text: string): string {
  try {
    const body = JSON.parse(text) as unknown;
    if (body !== null && typeof body === "object") {
      const b = body as Record<string, unknown>;
      const err = b.error;
      if (err !== null && typeof err === "object" && typeof (err as Record<string, unknown>).message === "string") {
        return (err as Record<string, string>).message!;
      }
      if (typeof err === "string") return err;
      if (typeof b.message === "string") return b.message;
      if (typeof b.detail === "string") return b.detail;
    }
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return text.slice(0, 200);
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

async function attemptOnce(url: string, body: unknown, ctx: PostContext): Promise<Attempt> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ctx.retry.timeoutMs);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...ctx.headers },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    const text = await res.text();
    if (res.status === 429 || res.status >= 500) {
      return {
        kind: "transient",
        why: `HTTP ${res.status}: ${serverMessage(text)}`,
        status: res.status,
        retryAfterMs: retryAfterMs(res.headers.get("retry-after")),
      };
    }
    if (res.status >= 400) {
      return {
        kind: "fatal",
        error: new RemoteModelError(
          "Refused",
          url,
          `Request refused by ${url}: HTTP ${res.status}: ${serverMessage(text)}`,
          res.status,
        ),
      };
    }
    try {
      return { kind: "ok", json: JSON.parse(text) };
    } catch (cause) {
      return {
        kind: "fatal",
        error: new RemoteModelError(
          "Malformed",
          url,
          `Cannot parse reply from ${url}: not JSON: ${JSON.stringify(text.slice(0, 80))}`,
          res.status,
          { cause },
        ),
      };
    }
  } catch (cause) {
    const why = controller.signal.aborted
      ? `timed out after ${ctx.retry.timeoutMs} ms`
      : `connection failed: ${cause instanceof Error ? cause.message : String(cause)}`;
    return { kind: "transient", why };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * POSTs `body` as JSON and returns the parsed JSON reply, retrying transient failures.
 * Rejects with a `RemoteModelError` ("Refused", "Malformed" or "Unavailable").
 */
export async function postJson(url: string, body: unknown, ctx: PostContext): Promise<unknown> {
  let last: Extract<Attempt, { kind: "transient" }> | undefined;
  for (let attempt = 0; attempt <= ctx.retry.maxRetries; attempt++) {
    if (attempt > 0) {
      const backoff = backoffDelayMs(attempt - 1, ctx.retry, ctx.rng);
      await ctx.sleep(Math.min(ctx.retry.backoffMaxMs, Math.max(backoff, last?.retryAfterMs ?? 0)));
    }
    const result = await attemptOnce(url, body, ctx);
    if (result.kind === "ok") return result.json;
    if (result.kind === "fatal") throw result.error;
    last = result;
  }
  throw new RemoteModelError(
    "Unavailable",
    url,
    `Cannot reach ${url} after ${ctx.retry.maxRetries + 1} attempts: ${last?.why ?? "unknown"}`,
    last?.status,
  );
}

/** Maps `items` through `fn` with at most `limit` calls in flight; results keep input order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Joins a base URL and a path without doubling or dropping the slash. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}
