/**
 * A local stand-in for a model server, on 127.0.0.1 and a free port, that follows the documented
 * request and reply shapes of OpenAI's `/v1/completions` (as vLLM serves it, with `logprobs`) and
 * vLLM's `/pooling`, with switchable failures so tests can drive clients through every path.
 *
 * Failures are a queue: each request takes the next queued `Fault` (if any) and the ones after it
 * see the next; an empty queue means a normal reply.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Buffer } from "node:buffer";
import { assert } from "vitest";
import { RemoteModelError } from "../../models/remoteHttp.ts";

/** Awaits a client call that must fail and returns its `RemoteModelError` (fails the test otherwise). */
export async function rejection(p: Promise<unknown>): Promise<RemoteModelError> {
  try {
    await p;
  } catch (err) {
    assert.instanceOf(err, RemoteModelError);
    return err as RemoteModelError;
  }
  assert.fail("expected a rejection");
}

/** One injected failure, consumed by one request. */
export type Fault =
  /** Reply with this HTTP status and an OpenAI-style error body (optionally `Retry-After`). */
  | { readonly kind: "status"; readonly status: number; readonly retryAfter?: number }
  /** Reply 200 with a body that is not JSON. */
  | { readonly kind: "malformed" }
  /** Reply 200 with valid JSON that lacks `choices` / `data`. */
  | { readonly kind: "missing" }
  /** Reply 200 with `choices: []` / `data: []`. */
  | { readonly kind: "empty" }
  /** Reply 200 with every completion text blank. */
  | { readonly kind: "blank" }
  /** Wait `ms` before a normal reply. */
  | { readonly kind: "slow"; readonly ms: number }
  /** Close the connection without replying. */
  | { readonly kind: "drop" };

/** A request the server received. */
export interface RecordedRequest {
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Record<string, unknown>;
}

/** Generates choice `i` of a completion request. */
export type CompleteFn = (prompt: string, i: number, body: Record<string, unknown>) => string;
/** Generates one pooling item's `data` for an input text. */
export type PoolFn = (text: string) => number | number[] | number[][];

/** A running fake server. */
export interface FakeModelServer {
  /** Root URL, e.g. "http://127.0.0.1:40123". */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Queue of failures for the next requests. */
  readonly faults: Fault[];
  /** Most requests that were in flight at once. */
  readonly maxInFlight: () => number;
  close(): Promise<void>;
}

/** Default completion: a deterministic step that names the seed and the choice index. */
export const defaultComplete: CompleteFn = (_prompt, i, body) =>
  `# Add ${i} to the seed\nx${i} = ${String(body.seed ?? 0)} + ${i}\n`;

/** Default pooling data: a per-token matrix (as `ALL` pooling returns) whose last row is [len/100]. */
export const defaultPool: PoolFn = (text) => [[0], [text.length / 100]];

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function errorBody(status: number, message: string) {
  return { error: { message, type: status === 429 ? "RateLimitError" : "BadRequestError", param: null, code: status } };
}

/** Starts a fake model server; `complete` and `pool` override the generated replies. */
export async function startFakeModelServer(
  options: { complete?: CompleteFn; pool?: PoolFn } = {},
): Promise<FakeModelServer> {
  const complete = options.complete ?? defaultComplete;
  const pool = options.pool ?? defaultPool;
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let inFlight = 0;
  let maxInFlight = 0;

  const reply = (path: string, body: Record<string, unknown>, res: ServerResponse, fault: Fault | undefined) => {
    if (fault?.kind === "status") {
      const headers: Record<string, string> = fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {};
      return sendJson(res, fault.status, errorBody(fault.status, `Injected failure ${fault.status}`), headers);
    }
    if (fault?.kind === "malformed") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end('{"choices": [ {"text": "# trunc');
    }
    if (fault?.kind === "missing") return sendJson(res, 200, { object: "list", id: "x" });
    if (path === "/v1/completions") {
      if (typeof body.model !== "string" || typeof body.prompt !== "string") {
        return sendJson(res, 400, errorBody(400, "model and prompt are required strings"));
      }
      const n = body.n ?? 1;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
        return sendJson(res, 400, errorBody(400, "n must be a positive integer"));
      }
      const choices = fault?.kind === "empty" ? [] : Array.from({ length: n }, (_, i) => {
        const text = fault?.kind === "blank" ? "  \n" : complete(body.prompt as string, i, body);
        const tokens = text.split(/(?<=\s)/).filter((t) => t.length > 0);
        return {
          index: i,
          text,
          logprobs: body.logprobs != null
            ? { tokens, token_logprobs: tokens.map(() => -0.25), top_logprobs: null, text_offset: tokens.map(() => 0) }
            : null,
          finish_reason: "stop",
        };
      });
      const completionTokens = choices.reduce((s, c) => s + c.text.split(/\s+/).length, 0);
      return sendJson(res, 200, {
        id: `cmpl-${requests.length}`,
        object: "text_completion",
        created: 0,
        model: body.model,
        choices,
        usage: { prompt_tokens: 10, completion_tokens: completionTokens, total_tokens: 10 + completionTokens },
      });
    }
    if (path === "/pooling") {
      const input = typeof body.input === "string" ? [body.input] : body.input;
      if (typeof body.model !== "string" || !Array.isArray(input) || input.some((x) => typeof x !== "string")) {
        return sendJson(res, 400, errorBody(400, "model (string) and input (string or string[]) are required"));
      }
      const data = fault?.kind === "empty"
        ? []
        : input.map((text, index) => ({ index, object: "pooling", data: pool(text as string) }));
      return sendJson(res, 200, {
        id: `pool-${requests.length}`,
        object: "list",
        created: 0,
        model: body.model,
        data,
        usage: { prompt_tokens: 10, total_tokens: 10 },
      });
    }
    sendJson(res, 404, errorBody(404, `Unknown path ${path}`));
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Uint8Array[] = [];
    req.on("data", (c: Uint8Array) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!;
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      } catch {
        return sendJson(res, 400, errorBody(400, "body is not JSON"));
      }
      requests.push({ path, headers: req.headers, body });
      const fault = faults.shift();
      if (fault?.kind === "drop") {
        req.socket.destroy();
        return;
      }
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const finish = () => {
        inFlight--;
        reply(path, body, res, fault?.kind === "slow" ? undefined : fault);
      };
      if (fault?.kind === "slow") {
        const t = setTimeout(() => {
          timers.delete(t);
          finish();
        }, fault.ms);
        timers.add(t);
      } else {
        // A short hold so that concurrent requests overlap measurably.
        const t = setTimeout(() => {
          timers.delete(t);
          finish();
        }, 5);
        timers.add(t);
      }
    });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    maxInFlight: () => maxInFlight,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
