/**
 * Bad messages sent to a running `rstar evolve --nats` from outside: each gets an error reply (or
 * a dead letter), the run says so on its own output without drowning it, and values the protocol
 * could not carry (k above 256, an absurd rollout budget) are refused where they come in, instead
 * of being accepted and failing the run later. The NATS case needs NATS on 127.0.0.1:4222
 * (`RSTAR_NATS_URL` to override).
 */
import { Result } from "effect";
import { assert, describe, it } from "vitest";
import { call } from "../../protocols/codec.ts";
import {
  MAX_K,
  MAX_ROLLOUTS,
  SetReply,
  SetRequest,
  SolveReply,
  SolveRequest,
} from "../../protocols/messages.ts";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import { applySettings, resolveConfig } from "../../scripts/run/config.ts";
import { createLocalServices } from "../../scripts/run/localServices.ts";
import { rejectionReporter } from "../../scripts/run/rejections.ts";
import { checkKnob } from "../../actors/controlState.ts";
import { natsUrl as url, removeRunStore } from "../helpers/evolveProcess.ts";

describe("the run's report of bad messages", () => {
  it("writes one line per subject at most every interval, counting the ones it held back, and nothing else", () => {
    const lines: string[] = [];
    let t = 0;
    const log = rejectionReporter((l) => lines.push(l), 10_000, () => t);
    const bad = (subject: string) =>
      log.warn("Rejected bad request", { subject, code: "BadRequest", error: "Send valid JSON" });
    bad("rstar.r.control.set");
    bad("rstar.r.control.set");
    bad("rstar.r.control.set");
    bad("rstar.r.heartbeat");
    log.warn("Request failed", { subject: "rstar.r.control.set", error: "not a rejection" });
    log.info("Rejected bad request", { subject: "rstar.r.control.set" }); // below warn: never a line
    t = 10_000;
    bad("rstar.r.control.set");
    assert.deepEqual(lines, [
      "rstar.r.control.set: refused a bad request: Send valid JSON",
      "rstar.r.heartbeat: refused a bad request: Send valid JSON",
      "rstar.r.control.set: refused a bad request: Send valid JSON (and 2 more since the last line)",
    ]);
  });

  it("refuses knobs beyond what a request can carry, naming the range", () => {
    assert.deepEqual(checkKnob("k", MAX_K), { key: "k", value: MAX_K });
    assert.match(
      (checkKnob("k", MAX_K + 1) as { message: string }).message,
      /k: value must be an integer from 1 to 256, got 257/,
    );
    assert.match(
      (checkKnob("rollouts", 1e12) as { message: string }).message,
      /rollouts: value must be an integer from 1 to 10000/,
    );
    const smoke = resolveConfig("smoke");
    assert.throws(
      () => applySettings(smoke, ["search.policy.k=300"]),
      /search.policy.k.*from 1 to 256/,
    );
    assert.throws(
      () => applySettings(smoke, [`search.bootstrap.rollouts=${MAX_ROLLOUTS + 1}`]),
      /from 1 to 10000/,
    );
    assert.equal(applySettings(smoke, ["eval.k=256"]).eval.k, 256);
  });

  it("answers bad messages to a running run with error replies and says so in the run's output", async () => {
    const run = `rejections-${Deno.pid}`;
    const lines: string[] = [];
    const services = createLocalServices({
      nats: { url, run, workers: 0 },
      warn: (l) => lines.push(l),
    });
    const nats = await connectNatsBus(url, { log: () => {} });
    const s = runSubjects(run);
    try {
      await services.start(resolveConfig("smoke", { rounds: 1 }));
      const k = await call(nats, s.control("set"), SetRequest, SetReply, {
        v: 2,
        id: "k",
        key: "k",
        value: 10_000,
      }, { timeoutMs: 2000 });
      assert.match(
        Result.isFailure(k) ? k.failure.message : "accepted",
        /between 1 and 256|from 1 to 256/,
      );
      const solve = await call(nats, s.control("solve"), SolveRequest, SolveReply, {
        v: 2,
        id: "s",
        problem: "What is 2 + 3?",
        rollouts: 1e12,
      }, {
        timeoutMs: 2000,
      });
      assert.match(Result.isFailure(solve) ? solve.failure.message : "accepted", /10000/);
      const depth = await nats.request(
        s.control("set"),
        new TextEncoder().encode('{"v":2,"id":"d","key":"depth","value":3}'),
        { timeoutMs: 2000 },
      );
      assert.include(new TextDecoder().decode(depth.data), "BadRequest");
      const garbage = new TextEncoder().encode("{not json");
      nats.publish(s.heartbeat, garbage);
      const reply = await nats.request(s.control("status"), garbage, { timeoutMs: 2000 });
      assert.include(new TextDecoder().decode(reply.data), "Send valid JSON");
      await nats.flush();
      await new Promise((r) => setTimeout(r, 200));
      assert.isTrue(
        lines.some((l) => l.startsWith(`${s.control("set")}: refused a bad request`)),
        lines.join("\n"),
      );
      assert.isTrue(
        lines.some((l) => l.startsWith(`${s.heartbeat}: refused a bad message`)),
        lines.join("\n"),
      );
      assert.isTrue(
        lines.some((l) => l.startsWith(`${s.control("status")}: refused a bad request`)),
        lines.join("\n"),
      );
    } finally {
      await services.close();
      await nats.close();
      await removeRunStore(run).catch(() => {});
    }
  });
});
