import { assert, describe, it } from "vitest";
import { Result } from "effect";
import { createActor } from "xstate";
import type { ScoreItem, StepScorer } from "../../math/contracts.ts";
import { systemClock } from "../../actors/clock.ts";
import { createCrashInjector, noCrashes } from "../../actors/crashInjector.ts";
import { silentLogger } from "../../actors/log.ts";
import { startScorer } from "../../actors/scorer.ts";
import type { ScoreJobRequest, ScoreOutcome, ScorerInput } from "../../actors/scorerMachine.ts";
import { scorerMachine } from "../../actors/scorerMachine.ts";
import { variantChecks } from "../../math/reference.ts";
import { exactGrade } from "../../actors/scriptedPolicy.ts";
import { call, publish } from "../../protocols/codec.ts";
import { InProcessBus } from "../../protocols/inProcessBus.ts";
import { ModelPublished, PROTOCOL_VERSION, ScoreReply, ScoreRequest } from "../../protocols/messages.ts";
import { runSubjects } from "../../protocols/subjects.ts";

const item: ScoreItem = { problem: "p", steps: [], candidate: { text: "t", code: "x = 1" } };

/** A scorer that values every item `value` and, while `hold` is set, waits for `release()`. */
class HeldScorer implements StepScorer {
  readonly name = "held";
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  constructor(readonly version: string, readonly value: number, readonly log: string[]) {}
  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }
  async score(items: readonly ScoreItem[]): Promise<number[]> {
    this.log.push(`score ${this.version}`);
    await this.gate;
    return items.map(() => this.value);
  }
}

/** Starts the bare machine and records the states it settles in. */
function machine(input: Omit<ScorerInput, "name">) {
  const actor = createActor(scorerMachine, { input: { ...input, name: "scorer" } });
  const states: string[] = [];
  actor.subscribe((snap) => {
    const s = String(snap.value);
    if (states[states.length - 1] !== s) states.push(s);
  });
  actor.start();
  const submit = (request: ScoreJobRequest) =>
    new Promise<ScoreOutcome>((resolve, reject) => actor.send({ type: "job", job: { request, resolve, reject } }));
  return { actor, states, submit };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("scorerMachine", () => {
  it("swaps to an announced model between batches, and each outcome names the version that scored it", async () => {
    const log: string[] = [];
    const v1 = new HeldScorer("ppm-r1", 0.1, log);
    const v2 = new HeldScorer("ppm-r2", 0.2, log);
    v1.hold();
    const m = machine({
      scorer: v1,
      loadScorer: (version) => {
        log.push(`load ${version}`);
        return Promise.resolve(v2);
      },
      grade: exactGrade,
      crash: noCrashes,
    });
    const a = m.submit({ items: [item], grade: [] });
    await tick();
    assert.strictEqual(m.actor.getSnapshot().value, "serving");
    // Announced mid-batch: the batch in flight finishes on ppm-r1; the next job waits for the swap.
    m.actor.send({ type: "model.announced", version: "ppm-r2" });
    const b = m.submit({ items: [item, item], grade: [{ answer: "4", reference: "4" }] });
    await tick();
    assert.deepStrictEqual(log, ["score ppm-r1"]);
    v1.release();
    const [ra, rb] = await Promise.all([a, b]);
    assert.deepInclude(ra, { _tag: "Scored", scores: [0.1], scorerVersion: "ppm-r1" });
    assert.deepInclude(rb, { _tag: "Scored", scores: [0.2, 0.2], grades: [true], scorerVersion: "ppm-r2" });
    assert.deepStrictEqual(log, ["score ppm-r1", "load ppm-r2", "score ppm-r2"]);
    assert.deepStrictEqual(m.states, ["idle", "serving", "swapping", "serving", "idle"]);
    assert.deepStrictEqual(m.actor.getSnapshot().context.swaps, ["ppm-r2"]);
    m.actor.stop();
  });

  it("folds the jobs queued during a batch into the next batch, one score call per job", async () => {
    const log: string[] = [];
    const s = new HeldScorer("ppm-r1", 0.5, log);
    s.hold();
    const m = machine({ scorer: s, loadScorer: () => Promise.reject(new Error("none")), grade: exactGrade, crash: noCrashes });
    const first = m.submit({ items: [item], grade: [] });
    await tick();
    const queued = [1, 2, 3].map(() => m.submit({ items: [item], grade: [] }));
    await tick();
    s.release();
    const outs = await Promise.all([first, ...queued]);
    assert.deepStrictEqual(outs.map((o) => o._tag === "Scored" ? o.batchSize : 0), [1, 3, 3, 3]);
    assert.strictEqual(log.length, 4);
    assert.strictEqual(m.actor.getSnapshot().context.batches, 2);
    m.actor.stop();
  });

  it("skips a version that cannot be loaded and keeps serving the current model", async () => {
    const s = new HeldScorer("ppm-r1", 0.3, []);
    const m = machine({ scorer: s, loadScorer: () => Promise.reject(new Error("no such blob")), grade: exactGrade, crash: noCrashes });
    m.actor.send({ type: "model.announced", version: "ppm-r9" });
    const out = await m.submit({ items: [item], grade: [] });
    assert.deepInclude(out, { scorerVersion: "ppm-r1", scores: [0.3] });
    assert.isUndefined(m.actor.getSnapshot().context.pendingVersion);
    m.actor.stop();
  });

  it("grades without a model, and answers a job with items NoModel instead of failing it", async () => {
    const m = machine({ scorer: undefined, loadScorer: () => Promise.reject(new Error("none")), grade: exactGrade, crash: noCrashes });
    assert.deepInclude(await m.submit({ items: [], grade: [{ answer: "1", reference: "2" }] }), { grades: [false], scorerVersion: "none" });
    assert.strictEqual((await m.submit({ items: [item], grade: [] }))._tag, "NoModel");
    assert.strictEqual(m.actor.getSnapshot().value, "idle");
    m.actor.stop();
  });

  it("grades a right answer wrong when its steps fail the problem's variant checks", async () => {
    const m = machine({ scorer: undefined, loadScorer: () => Promise.reject(new Error("none")), grade: exactGrade, crash: noCrashes });
    const problem = "A worker makes 11 chairs each hour for 9 hours; 23 fail the check; 4 shops share the rest.";
    const checks = variantChecks([{ code: "total = 11 * 9" }, { code: "print((total - 23) // 4)" }], problem);
    const steps = (...codes: string[]) => codes.map((code) => ({ text: "", code }));
    const out = await m.submit({
      items: [],
      grade: [
        { answer: "19", reference: "19", steps: steps("v1 = 11 * 9", "print((v1 - 23) / 4)"), checks },
        { answer: "19", reference: "19", steps: steps("v1 = 9 + 23", "print(v1 / 4 + 11)"), checks },
        { answer: "19", reference: "19", steps: steps("v1 = 9 + 23", "print(v1 / 4 + 11)") },
        { answer: "18", reference: "19", steps: steps("print(18)"), checks },
      ],
    });
    assert.deepInclude(out, { grades: [true, false, true, false] });
    m.actor.stop();
  });

  it("an injected crash rejects the batch and every queued job and ends in crashed", async () => {
    const s = new HeldScorer("ppm-r1", 0.3, []);
    const m = machine({
      scorer: s,
      loadScorer: () => Promise.reject(new Error("none")),
      grade: exactGrade,
      crash: createCrashInjector({ seed: 1, rates: { scorer: 1 } }),
    });
    const results = await Promise.allSettled([m.submit({ items: [item], grade: [] }), m.submit({ items: [], grade: [] })]);
    assert.deepStrictEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    assert.match(String((results[0] as PromiseRejectedResult).reason), /Injected crash in scorer/);
    assert.strictEqual(m.actor.getSnapshot().value, "crashed");
  });

  it("stop finishes the queued jobs, then stops", async () => {
    const s = new HeldScorer("ppm-r1", 0.4, []);
    s.hold();
    const m = machine({ scorer: s, loadScorer: () => Promise.reject(new Error("none")), grade: exactGrade, crash: noCrashes });
    const jobs = [m.submit({ items: [item], grade: [] }), m.submit({ items: [item], grade: [] })];
    await tick();
    m.actor.send({ type: "stop" });
    await tick();
    assert.strictEqual(m.actor.getSnapshot().status, "active");
    s.release();
    const outs = await Promise.all(jobs);
    assert.deepStrictEqual(outs.map((o) => o._tag), ["Scored", "Scored"]);
    assert.strictEqual(m.actor.getSnapshot().value, "stopped");
  });
});

describe("Scorer on the bus", () => {
  it("replies name the scorer version and its work time, and a .model announcement swaps the model", async () => {
    const bus = new InProcessBus();
    const models = new Map([["ppm-r2", new HeldScorer("ppm-r2", -0.5, [])]]);
    const handle = await startScorer({
      bus,
      run: "t",
      id: "s1",
      scorer: new HeldScorer("ppm-r1", 0.5, []),
      loadScorer: (v) => models.has(v) ? Promise.resolve(models.get(v)!) : Promise.reject(new Error(`no ${v}`)),
      grade: exactGrade,
      log: silentLogger,
      clock: systemClock,
      crash: noCrashes,
    });
    const ask = async (id: string) =>
      Result.getOrThrow(
        await call(bus, runSubjects("t").score, ScoreRequest, ScoreReply, {
          v: PROTOCOL_VERSION,
          id,
          items: [item],
          grade: [{ answer: "7", reference: "7" }],
        }, { timeoutMs: 2000 }),
      );
    const before = await ask("r1");
    assert.deepInclude(before, { scores: [0.5], grades: [true], scorerVersion: "ppm-r1" });
    assert.isAtLeast(before.workMs!, 0);
    publish(bus, runSubjects("t").model, ModelPublished, { v: PROTOCOL_VERSION, name: "ppm", version: "ppm-r2", blob: "models/ppm/ppm-r2" });
    await bus.flush();
    await tick();
    const after = await ask("r2");
    assert.deepInclude(after, { scores: [-0.5], scorerVersion: "ppm-r2" });
    assert.strictEqual(handle.policyVersion(), "ppm-r2");
    await handle.stop();
    assert.deepStrictEqual(await handle.exited, {});
  });
});
