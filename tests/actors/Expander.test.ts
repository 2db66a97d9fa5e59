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

const req = (id: string, seed = 1, steps: ExpandRequest["steps"] = []): ExpandRequest => ({
  v: PROTOCOL_VERSION,
  id,
  run: "t",
  problem: "p",
  steps,
  k: 3,
  temperature: 1,
  topP: 1,
  seed,
});

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
    for (const r of replies) assert.strictEqual(r.candidates.length, 3);
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
    const wrong = await bus.request(subject, new TextEncoder().encode(JSON.stringify({ v: 1, id: "x", k: "many" })), { timeoutMs: 2000 });
    assert.strictEqual(wrong.headers["Rstar-Error"], "BadRequest");
    const ok = await expand(bus, req("good"));
    assert.strictEqual(ok.candidates.length, 3);
    await h.stop();
  });

  it("swaps to an announced policy version between batches and names it in replies", async () => {
    const { bus, handle } = setup(4);
    const h = await handle;
    assert.strictEqual((await expand(bus, req("before"))).policyVersion, "scripted-v1");
    publish(bus, runSubjects("t").model, ModelPublished, { v: PROTOCOL_VERSION, name: "policy", version: "scripted-v2", blob: "b" });
    await bus.flush();
    await new Promise((r) => setTimeout(r, 10));
    assert.strictEqual((await expand(bus, req("after"))).policyVersion, "scripted-v2");
    assert.strictEqual(h.policyVersion(), "scripted-v2");
    await h.stop();
  });

  it("runs each candidate's code: a print is a terminal with its answer", async () => {
    const { bus, handle } = setup(1);
    const h = await handle;
    const r = await expand(bus, req("deep", 1, [{ text: "a", code: "x = 2" }, { text: "b", code: "y = x + 1" }]));
    assert.isTrue(r.candidates.every((c) => c.terminal && c.answer === "3"));
    assert.strictEqual(r.policyVersion, "scripted-v1");
    await h.stop();
  });
});
