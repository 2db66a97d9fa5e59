import { assert, describe, it } from "vitest";
import { SafeExecutor } from "../../math/interpreter.ts";
import { systemClock } from "../../actors/clock.ts";
import { noCrashes } from "../../actors/crashInjector.ts";
import { startExpander } from "../../actors/expander.ts";
import { silentLogger } from "../../actors/log.ts";
import { ReplyCache } from "../../actors/replyCache.ts";
import type { ExpandReply } from "../../actors/wire.ts";
import { call, checkExpandReply, encode, subjects } from "../../actors/wire.ts";
import { ScriptedPolicy } from "./scripted.ts";
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

const req = (id: string, seed = 1) => ({ id, problem: "p", steps: [], k: 3, temperature: 1, topP: 1, seed });

describe("Expander", () => {
  it("dynamic batching folds 64 concurrent requests into few propose calls", async () => {
    const { bus, policy, handle } = setup(64);
    const h = await handle;
    const replies = await Promise.all(
      Array.from({ length: 64 }, (_, i) => call(bus, subjects("t").expand, req(`r${i}`, i), checkExpandReply, 5000)),
    );
    for (const r of replies) assert.isTrue("candidates" in r && r.candidates.length === 3);
    assert.isAtMost(policy.calls, 4);
    assert.strictEqual(policy.batchSizes.reduce((a, b) => a + b, 0), 64);
    await h.stop();
  });

  it("a retried request id returns the cached reply without a second propose", async () => {
    const { bus, policy, handle } = setup(8);
    const h = await handle;
    const a = await call(bus, subjects("t").expand, req("same", 3), checkExpandReply, 5000);
    const b = await call(bus, subjects("t").expand, req("same", 3), checkExpandReply, 5000);
    assert.deepStrictEqual(a, b);
    assert.strictEqual(policy.calls, 1);
    await h.stop();
  });

  it("a malformed request gets a BadRequest error reply and the expander keeps serving", async () => {
    const { bus, handle } = setup(8);
    const h = await handle;
    const bad = await bus.request(subjects("t").expand, new TextEncoder().encode("{not json"), { timeoutMs: 2000 });
    assert.strictEqual(bad.headers["Rstar-Error"], "BadRequest");
    const wrong = await bus.request(subjects("t").expand, encode({ id: "x", k: "many" }), { timeoutMs: 2000 });
    assert.strictEqual(wrong.headers["Rstar-Error"], "BadRequest");
    const ok = await call(bus, subjects("t").expand, req("good"), checkExpandReply, 5000);
    assert.isTrue("candidates" in ok);
    await h.stop();
  });

  it("runs each candidate's code: a print is a terminal with its answer", async () => {
    const { bus, handle } = setup(1);
    const h = await handle;
    const r = await call(bus, subjects("t").expand, {
      ...req("deep"),
      steps: [{ text: "a", code: "x = 2" }, { text: "b", code: "y = x + 1" }],
    }, checkExpandReply, 5000);
    assert.isTrue("candidates" in r);
    if ("candidates" in r) {
      assert.isTrue(r.candidates.every((c) => c.terminal && c.answer === "3"));
      assert.strictEqual(r.policyVersion, "scripted-v1");
    }
    await h.stop();
  });
});
