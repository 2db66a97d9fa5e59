import { afterEach, assert, beforeEach, describe, it } from "vitest";
import type { ScoreItem } from "../../math/contracts.ts";
import { renderScoredText } from "../../models/remotePrompt.ts";
import { RemoteScorer, type RemoteScorerOptions, transformScore } from "../../models/remoteScorer.ts";
import { type FakeModelServer, type PoolFn, rejection, startFakeModelServer } from "../helpers/fakeModelServer.ts";

const items: ScoreItem[] = Array.from({ length: 5 }, (_, i) => ({
  problem: "What is 2 + 3?",
  steps: i % 2 === 0 ? [] : [{ text: "Add", code: "s = 2 + 3" }],
  candidate: { text: `Candidate ${i}`, code: "print(" + "s".repeat(i + 1) + ")" },
}));

let server: FakeModelServer;

async function start(pool?: PoolFn) {
  server = await startFakeModelServer(pool ? { pool } : {});
}

function scorer(over: Partial<RemoteScorerOptions> = {}): RemoteScorer {
  return new RemoteScorer({
    url: `${server.url}/pooling`,
    model: "fake-prm",
    retry: { timeoutMs: 2_000, maxRetries: 2, backoffBaseMs: 1, backoffMaxMs: 2 },
    ...over,
  });
}

beforeEach(() => start());
afterEach(async () => {
  await server.close();
});

describe("RemoteScorer", () => {
  it("score() posts {model, input: [texts]} and maps the last token's score through tanh, in order", async () => {
    const scores = await scorer().score(items);
    assert.equal(server.requests.length, 1);
    const body = server.requests[0]!.body;
    assert.equal(body.model, "fake-prm");
    assert.deepEqual(body.input, items.map((it) => renderScoredText(it.problem, it.steps, it.candidate)));
    scores.forEach((s, i) => {
      const text = renderScoredText(items[i]!.problem, items[i]!.steps, items[i]!.candidate);
      assert.closeTo(s, Math.tanh(text.length / 100), 1e-12);
    });
  });

  it("score() splits large inputs into batches and keeps results in input order", async () => {
    const many = Array.from({ length: 7 }, (_, i) => items[i % items.length]!);
    const scores = await scorer({ batchSize: 3 }).score(many);
    assert.equal(server.requests.length, 3);
    assert.deepEqual(server.requests.map((r) => (r.body.input as string[]).length).sort(), [1, 3, 3]);
    const single = await scorer().score(many);
    assert.deepEqual(scores, single);
  });

  it("score() keeps every score in [−1, 1] whatever the raw output", async () => {
    await server.close();
    await start((text) => [text.length * 1e3 * (text.length % 2 === 0 ? 1 : -1)]);
    for (const transform of ["tanh", "sigmoid", "clip", "prob"] as const) {
      for (const s of await scorer({ transform }).score(items)) {
        assert.isAtLeast(s, -1);
        assert.isAtMost(s, 1);
      }
    }
  });

  it("score() reads a chosen label of a probability vector with the prob transform", async () => {
    await server.close();
    await start(() => [0.2, 0.8]);
    const scores = await scorer({ pick: 1, transform: "prob" }).score(items.slice(0, 2));
    for (const s of scores) assert.closeTo(s, 0.6, 1e-12);
  });

  it("score() retries a 500 and fails as Refused on a 400", async () => {
    server.faults.push({ kind: "status", status: 500 });
    assert.equal((await scorer().score(items)).length, items.length);
    server.faults.push({ kind: "status", status: 400 });
    assert.equal((await rejection(scorer().score(items))).reason, "Refused");
  });

  it("score() fails as Malformed on bad JSON, missing data, or non-numeric scores", async () => {
    server.faults.push({ kind: "malformed" });
    assert.equal((await rejection(scorer().score(items))).reason, "Malformed");
    server.faults.push({ kind: "missing" });
    assert.equal((await rejection(scorer().score(items))).reason, "Malformed");
    await server.close();
    await start(() => [] as number[]);
    assert.equal((await rejection(scorer().score(items))).reason, "Malformed");
  });

  it("score() fails as Empty on an empty data array and returns [] for no items", async () => {
    server.faults.push({ kind: "empty" });
    assert.equal((await rejection(scorer().score(items))).reason, "Empty");
    assert.deepEqual(await scorer().score([]), []);
  });
});

describe("transformScore", () => {
  it("maps 0 to 0 under tanh, sigmoid and clip, and probability 0.5 to 0", () => {
    assert.equal(transformScore(0, "tanh"), 0);
    assert.equal(transformScore(0, "sigmoid"), 0);
    assert.equal(transformScore(0, "clip"), 0);
    assert.equal(transformScore(0.5, "prob"), 0);
    assert.equal(transformScore(7, "clip"), 1);
  });
});
