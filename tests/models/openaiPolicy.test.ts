import { afterEach, assert, beforeEach, describe, it } from "vitest";
import type { ProposeRequest } from "../../math/contracts.ts";
import { Prng } from "../../math/prng.ts";
import { OpenAIPolicy, type OpenAIPolicyOptions } from "../../models/openaiPolicy.ts";
import { backoffDelayMs, defaultRetryOptions } from "../../models/remoteHttp.ts";
import { parseStep, renderPrompt } from "../../models/remotePrompt.ts";
import { type FakeModelServer, rejection, startFakeModelServer } from "../helpers/fakeModelServer.ts";

const request = (over: Partial<ProposeRequest> = {}): ProposeRequest => ({
  problem: "Tom has 3 apples and buys 4 more. How many apples does he have?",
  steps: [{ text: "Count the apples", code: "total = 3 + 4" }],
  k: 3,
  temperature: 0.7,
  topP: 0.95,
  seed: 11,
  ...over,
});

let server: FakeModelServer;
let sleeps: number[];

function policy(over: Partial<OpenAIPolicyOptions> = {}): OpenAIPolicy {
  return new OpenAIPolicy({
    baseUrl: server.url,
    model: "fake-math",
    retry: { timeoutMs: 2_000, maxRetries: 3, backoffBaseMs: 10, backoffMaxMs: 50 },
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...over,
  });
}

beforeEach(async () => {
  server = await startFakeModelServer();
  sleeps = [];
});
afterEach(async () => {
  await server.close();
});

describe("OpenAIPolicy", () => {
  it("propose() sends the documented completions request: prompt with steps, n = k, stop at the delimiter", async () => {
    await policy({ maxTokens: 99 }).propose([request()]);
    assert.equal(server.requests.length, 1);
    const { path, body } = server.requests[0]!;
    assert.equal(path, "/v1/completions");
    assert.equal(body.model, "fake-math");
    assert.equal(body.n, 3);
    assert.equal(body.temperature, 0.7);
    assert.equal(body.top_p, 0.95);
    assert.equal(body.seed, 11);
    assert.equal(body.max_tokens, 99);
    assert.deepEqual(body.stop, ["<end_of_step>"]);
    assert.equal(body.prompt, renderPrompt(request().problem, request().steps));
    assert.include(body.prompt as string, "Problem: Tom has 3 apples");
    assert.include(body.prompt as string, "# Count the apples\ntotal = 3 + 4\n<end_of_step>\n");
  });

  it("propose() parses each completion into a step with its summed logprob and token count", async () => {
    const [steps] = await policy().propose([request({ k: 2 })]);
    assert.equal(steps!.length, 2);
    assert.deepEqual({ text: steps![1]!.text, code: steps![1]!.code }, { text: "Add 1 to the seed", code: "x1 = 11 + 1" });
    assert.isBelow(steps![0]!.logprob, 0);
    assert.isAbove(steps![0]!.tokens, 0);
    assert.closeTo(steps![0]!.logprob, -0.25 * steps![0]!.tokens, 1e-9);
  });

  it("propose() reports logprob 0 when the server returns no logprobs", async () => {
    const [steps] = await policy({ logprobs: false }).propose([request({ k: 1 })]);
    assert.equal(server.requests[0]!.body.logprobs, undefined);
    assert.equal(steps![0]!.logprob, 0);
    assert.isAbove(steps![0]!.tokens, 0);
  });

  it("propose() answers many requests in order, concurrently but never above the bound", async () => {
    const reqs = Array.from({ length: 12 }, (_, i) => request({ seed: 100 + i, k: 1 }));
    const out = await policy({ concurrency: 3 }).propose(reqs);
    assert.equal(out.length, 12);
    out.forEach((steps, i) => assert.equal(steps[0]!.code, `x0 = ${100 + i} + 0`));
    assert.isAtMost(server.maxInFlight(), 3);
    assert.isAtLeast(server.maxInFlight(), 2);
  });

  it("propose() with maxN 1 sends one request per sample with distinct seeds", async () => {
    const [steps] = await policy({ maxN: 1 }).propose([request({ k: 3, seed: 7 })]);
    assert.equal(steps!.length, 3);
    assert.deepEqual(server.requests.map((r) => r.body.seed).sort(), [7, 8, 9]);
    assert.isTrue(server.requests.every((r) => r.body.n === 1));
  });

  it("propose() retries a 500 and then succeeds, backing off", async () => {
    server.faults.push({ kind: "status", status: 500 }, { kind: "status", status: 503 });
    const [steps] = await policy().propose([request()]);
    assert.equal(steps!.length, 3);
    assert.equal(server.requests.length, 3);
    assert.equal(sleeps.length, 2);
    assert.isAbove(sleeps[1]!, 0);
  });

  it("propose() honours Retry-After on 429 (capped at the maximum backoff)", async () => {
    server.faults.push({ kind: "status", status: 429, retryAfter: 1 });
    await policy().propose([request()]);
    assert.deepEqual(sleeps, [50]);
  });

  it("propose() retries a dropped connection and a timed-out reply", async () => {
    server.faults.push({ kind: "drop" }, { kind: "slow", ms: 1_000 });
    const [steps] = await policy({ retry: { timeoutMs: 150, maxRetries: 3, backoffBaseMs: 1, backoffMaxMs: 1 } })
      .propose([request()]);
    assert.equal(steps!.length, 3);
    assert.equal(server.requests.length, 3);
  });

  it("propose() fails as Unavailable when transient failures outlast the retries", async () => {
    for (let i = 0; i < 4; i++) server.faults.push({ kind: "status", status: 502 });
    const err = await rejection(policy().propose([request()]));
    assert.equal(err.reason, "Unavailable");
    assert.equal(err.status, 502);
    assert.equal(err._tag, "RemoteModelError");
    assert.match(err.message, /^Cannot reach .* after 4 attempts: HTTP 502/);
  });

  it("propose() fails as Refused on a 4xx without retrying", async () => {
    server.faults.push({ kind: "status", status: 401 });
    const err = await rejection(policy().propose([request()]));
    assert.equal(err.reason, "Refused");
    assert.equal(err.status, 401);
    assert.equal(server.requests.length, 1);
    assert.include(err.message, "Injected failure 401");
  });

  it("propose() fails as Malformed on bad JSON or a reply without choices", async () => {
    server.faults.push({ kind: "malformed" });
    assert.equal((await rejection(policy().propose([request()]))).reason, "Malformed");
    server.faults.push({ kind: "missing" });
    assert.equal((await rejection(policy().propose([request()]))).reason, "Malformed");
  });

  it("propose() fails as Empty on empty choices or only blank completions", async () => {
    server.faults.push({ kind: "empty" });
    assert.equal((await rejection(policy().propose([request()]))).reason, "Empty");
    server.faults.push({ kind: "blank" });
    assert.equal((await rejection(policy().propose([request()]))).reason, "Empty");
  });

  it("propose() sends the API key as a bearer token", async () => {
    await policy({ apiKey: "sk-test" }).propose([request({ k: 1 })]);
    assert.equal(server.requests[0]!.headers.authorization, "Bearer sk-test");
  });
});

describe("parseStep", () => {
  it("splits the comment line from the code and cuts at a delimiter the server left in", () => {
    assert.deepEqual(parseStep("\n# Halve it\nh = x / 2\n\n<end_of_step>\n# next"), { text: "Halve it", code: "h = x / 2" });
    assert.deepEqual(parseStep("y = 2\nprint(y)"), { text: "", code: "y = 2\nprint(y)" });
    assert.equal(parseStep(" \n "), undefined);
  });
});

describe("backoffDelayMs", () => {
  it("grows exponentially within [cap/2, cap] and is reproducible from the seed", () => {
    const a = Prng.fromSeed(3);
    const b = Prng.fromSeed(3);
    const opts = { ...defaultRetryOptions, backoffBaseMs: 100, backoffMaxMs: 1_000 };
    for (let attempt = 0; attempt < 6; attempt++) {
      const cap = Math.min(1_000, 100 * 2 ** attempt);
      const d = backoffDelayMs(attempt, opts, a);
      assert.isAtLeast(d, cap / 2);
      assert.isAtMost(d, cap);
      assert.equal(d, backoffDelayMs(attempt, opts, b));
    }
  });
});
