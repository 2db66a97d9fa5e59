import { assert, describe, it } from "vitest";
import { SafeExecutor } from "../../math/interpreter.ts";
import { systemClock } from "../../actors/clock.ts";
import { noCrashes } from "../../actors/crashInjector.ts";
import { startExpander } from "../../actors/expander.ts";
import { silentLogger } from "../../actors/log.ts";
import { ReplyCache } from "../../actors/replyCache.ts";
import { Result } from "effect";
import { call, publish } from "../../protocols/codec.ts";
import { ExpandReply, ExpandRequest, ModelPublished, PROTOCOL_VERSION } from "../../protocols/messages.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import { ScriptedPolicy } from "../../actors/scriptedPolicy.ts";
import { InProcessBus } from "../../protocols/inProcessBus.ts";

function setup(maxBatch = 64) {
  const bus = new InProcessBus();
  const policy = new ScriptedPolicy();
  const handle = startExpander({
    bus,
    run: "t",
    id: "e1",
    policy,
    executor: new SafeExecutor(),
    loadPolicy: (v) => Promise.resolve(new ScriptedPolicy(v)),
    log: silentLogger,
    clock: systemClock,
    crash: noCrashes,
    cache: new ReplyCache<ExpandReply>(systemClock, 60_000),
    maxBatch,
    maxWaitMs: 20,
  });
  return { bus, policy, handle };
}

type Steps = ExpandRequest["asks"][number]["steps"];

const req = (id: string, seed = 1, steps: Steps = []): ExpandRequest => ({
  v: PROTOCOL_VERSION,
  id,
  run: "t",
  problem: "p",
  asks: [{ steps, seed }],
  k: 3,
  temperature: 1,
  topP: 1,
});

const deep: Steps = [{ text: "a", code: "x = 2" }, { text: "b", code: "y = x + 1" }];

async function expand(bus: InProcessBus, r: ExpandRequest): Promise<ExpandReply> {
  const rep = await call(bus, runSubjects("t").expand, ExpandRequest, ExpandReply, r, { timeoutMs: 5000 });
  if (Result.isFailure(rep)) throw new Error(rep.failure.message);
  return rep.success;
}

describe("Expander", () => {
  it("dynamic batching folds 64 concurrent requests into few propose calls", async () => {
    const { bus, policy, handle } = setup(64);
    const h = await handle;
    const replies = await Promise.all(Array.from({ length: 64 }, (_, i) => expand(bus, req(`r${i}`, i))));
    for (const r of replies) assert.strictEqual(r.results[0]!.candidates.length, 3);
    assert.isAtMost(policy.calls, 4);
    assert.strictEqual(policy.batchSizes.reduce((a, b) => a + b, 0), 64);
    await h.stop();
  });

  it("a retried request id returns the cached reply without a second propose", async () => {
    const { bus, policy, handle } = setup(8);
    const h = await handle;
    const a = await expand(bus, req("same", 3));
    const b = await expand(bus, req("same", 3));
    assert.deepStrictEqual(a, b);
    assert.strictEqual(policy.calls, 1);
    await h.stop();
  });

  it("a malformed request gets a BadRequest error reply and the expander keeps serving", async () => {
    const { bus, handle } = setup(8);
    const h = await handle;
    const subject = runSubjects("t").expand;
    const bad = await bus.request(subject, new TextEncoder().encode("{not json"), { timeoutMs: 2000 });
    assert.strictEqual(bad.headers["Rstar-Error"], "BadRequest");
    const wrong = await bus.request(subject, new TextEncoder().encode(JSON.stringify({ v: PROTOCOL_VERSION, id: "x", k: "many" })), { timeoutMs: 2000 });
    assert.strictEqual(wrong.headers["Rstar-Error"], "BadRequest");
    const none = await bus.request(subject, new TextEncoder().encode(JSON.stringify({ ...req("empty"), asks: [] })), { timeoutMs: 2000 });
    assert.strictEqual(none.headers["Rstar-Error"], "BadRequest");
    const ok = await expand(bus, req("good"));
    assert.strictEqual(ok.results[0]!.candidates.length, 3);
    await h.stop();
  });

  it("swaps to an announced policy version between batches and names it in replies", async () => {
    const { bus, handle } = setup(4);
    const h = await handle;
    assert.strictEqual((await expand(bus, req("before"))).results[0]!.policyVersion, "scripted-v1");
    publish(bus, runSubjects("t").model, ModelPublished, { v: PROTOCOL_VERSION, name: "policy", version: "scripted-v2", blob: "b" });
    await bus.flush();
    await new Promise((r) => setTimeout(r, 10));
    assert.strictEqual((await expand(bus, req("after"))).results[0]!.policyVersion, "scripted-v2");
    assert.strictEqual(h.policyVersion(), "scripted-v2");
    await h.stop();
  });

  it("runs each candidate's code: a print is a terminal with its answer", async () => {
    const { bus, handle } = setup(1);
    const h = await handle;
    const r = (await expand(bus, req("deep", 1, deep))).results[0]!;
    assert.isTrue(r.candidates.every((c) => c.terminal && c.answer === "3"));
    assert.isTrue(r.candidates.every((c) => c.correct === undefined), "no reference, no grade");
    assert.strictEqual(r.policyVersion, "scripted-v1");
    await h.stop();
  });

  it("answers a wave's asks in one reply, in order, each as if asked alone, batched together", async () => {
    const { bus, policy, handle } = setup(64);
    const h = await handle;
    const asks = [{ steps: [], seed: 4 }, { steps: deep, seed: 1 }, { steps: deep.slice(0, 1), seed: 7 }];
    const wave = await expand(bus, { ...req("wave"), asks });
    const alone = await Promise.all(asks.map((a, i) => expand(bus, req(`alone-${i}`, a.seed, a.steps))));
    assert.deepStrictEqual(wave.results, alone.map((r) => r.results[0]!));
    assert.deepStrictEqual(wave.results.map((r) => r.candidates[0]!.step.code), ["x = 4", "print(y)", "y = x + 0"]);
    assert.strictEqual(policy.batchSizes[0], 3, "the wave's asks ran in one batch");
    await h.stop();
  });

  it("grades terminal answers against the request's reference, variant checks included", async () => {
    const { bus, handle } = setup(8);
    const h = await handle;
    const graded = (id: string, grade: ExpandRequest["grade"]) => expand(bus, { ...req(id, 1, deep), grade });
    const right = (await graded("right", { reference: "3" })).results[0]!.candidates;
    assert.deepStrictEqual(right.map((c) => c.correct), [true, true, true]);
    const wrong = (await graded("wrong", { reference: "4" })).results[0]!.candidates;
    assert.deepStrictEqual(wrong.map((c) => c.correct), [false, false, false]);
    // Variants of the problem's numbers: the trajectory `x = 2; y = x + 1` gets x + 1 for each.
    const variants = (answers: string[]) => ["5", "7", "9"].map((n, i) => ({ numbers: { "2": n }, answer: answers[i]! }));
    const same = (await graded("same", { reference: "3", checks: variants(["6", "8", "10"]) })).results[0]!.candidates;
    assert.deepStrictEqual(same.map((c) => c.correct), [true, true, true]);
    const other = (await graded("other", { reference: "3", checks: variants(["10", "14", "18"]) })).results[0]!.candidates;
    assert.deepStrictEqual(other.map((c) => c.correct), [false, false, false], "right answer, wrong on the variants: wrong");
    // Steps that are not terminal are never graded.
    const first = (await expand(bus, { ...req("first"), grade: { reference: "3" } })).results[0]!.candidates;
    assert.isTrue(first.every((c) => !c.terminal && c.correct === undefined));
    await h.stop();
  });
});
