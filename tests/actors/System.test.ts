import { assert, describe, it } from "vitest";
import type { AnswerCheck, ProposeRequest } from "../../math/contracts.ts";
import { ScriptedPolicy } from "../../actors/scriptedPolicy.ts";
import { createCrashInjector } from "../../actors/crashInjector.ts";
import type { ProblemResult } from "../../actors/searchService.ts";
import type { SystemHandle } from "../../actors/system.ts";
import { Result } from "effect";
import type { MessageSchema } from "../../protocols/codec.ts";
import { call, serve } from "../../protocols/codec.ts";
import { ControlMessages, ExpandReply, ExpandRequest, PROTOCOL_VERSION } from "../../protocols/messages.ts";
import { QueueGroups, runSubjects } from "../../protocols/subjects.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { expandBatch } from "../../actors/expanderMachine.ts";
import { toWire } from "../../actors/expander.ts";
import { InMemoryBlobStore, InProcessBus } from "../../protocols/inProcessBus.ts";
import { startScriptedSystem, toyProblems } from "../helpers/scriptedSystem.ts";

const blobs = new InMemoryBlobStore();

/** The scripted policy, keeping every request it was asked. */
class RecordingPolicy extends ScriptedPolicy {
  readonly seen: ProposeRequest[] = [];
  override propose(requests: readonly ProposeRequest[]) {
    this.seen.push(...requests);
    return super.propose(requests);
  }
}

const problems = toyProblems(6, "p");

function system(crashRate = 0, seed = 7) {
  const bus = new InProcessBus();
  const crash = createCrashInjector({ seed, rates: { expander: crashRate } });
  const sys = startScriptedSystem({
    bus,
    blobs,
    run: "t",
    roles: ["expander", "scorer", "searcher"],
    crash,
    maxBatch: 16,
    maxWaitMs: 2,
    restart: { baseMs: 5, maxMs: 50, maxAttempts: 50, seed: 3 },
    requestTimeoutMs: 2000,
  });
  return { bus, sys, crash };
}

async function search(sys: SystemHandle, usePpm = false): Promise<ProblemResult[]> {
  const results: ProblemResult[] = [];
  await sys.search!.run(
    { round: 1, mode: "train", problems, config: { rollouts: 6, k: 3, maxDepth: 4 }, usePpm, seed: 11, concurrency: 3 },
    async (r) => {
      results.push(r);
      await Promise.resolve();
    },
  );
  return results;
}

/** An expander that crashes on every request, poked until its supervisor gives up restarting it. */
async function crashUntilGivenUp(maxAttempts: number) {
  const bus = new InProcessBus();
  const sys = startScriptedSystem({
    bus,
    blobs,
    run: "t",
    roles: ["expander"],
    scorer: undefined,
    crash: createCrashInjector({ seed: 1, rates: { expander: 1 } }),
    restart: { baseMs: 1, maxMs: 5, maxAttempts, seed: 3 },
  });
  let n = 0;
  const poke = setInterval(() => {
    const r: ExpandRequest = { v: PROTOCOL_VERSION, id: `poke-${n++}`, run: "t", problem: "p", asks: [{ steps: [], seed: 1 }], k: 1, temperature: 1, topP: 1 };
    void call(bus, runSubjects("t").expand, ExpandRequest, ExpandReply, r, { timeoutMs: 500 });
  }, 2);
  const failure = await sys.done;
  clearInterval(poke);
  return { sys, failure };
}

describe("startSystem", () => {
  it("a search hands every problem to the caller exactly once, with grown trees", async () => {
    const { sys } = system();
    const results = await search(sys, true);
    assert.deepStrictEqual(results.map((r) => r.problemId).sort(), problems.map((p) => p.id));
    for (const r of results) {
      assert.isAbove(r.tree.nodes.length, 1);
      assert.strictEqual(r.policyVersion, "scripted-v1");
      assert.strictEqual(r.scorerVersion, "const-v1");
    }
    assert.isTrue(results.some((r) => r.solved));
    await sys.stop();
  });

  it("a training search grades a right answer wrong when its trajectory fails the problem's hidden variant checks", async () => {
    const run = async (checks: (p: (typeof problems)[number]) => AnswerCheck[]) => {
      const { sys } = system();
      const results: ProblemResult[] = [];
      await sys.search!.run(
        {
          round: 1,
          mode: "train",
          problems: problems.map((p) => ({ ...p, checks: checks(p) })),
          config: { rollouts: 6, k: 3, maxDepth: 4 },
          usePpm: false,
          seed: 11,
          concurrency: 3,
        },
        (r) => {
          results.push(r);
          return Promise.resolve();
        },
      );
      await sys.stop();
      return Object.fromEntries(results.map((r) => [r.problemId, r.solved]));
    };
    const first = system();
    const plain = await search(first.sys);
    await first.sys.stop();
    const solved = Object.fromEntries(plain.map((r) => [r.problemId, r.solved]));
    assert.isTrue(Object.values(solved).some((x) => x));
    // Checks the scripted steps pass (the variant is the problem itself): the same problems solved.
    assert.deepStrictEqual(await run((p) => Array(3).fill({ numbers: {}, answer: p.answer })), solved);
    // Checks no trajectory passes: every right answer is graded wrong.
    const none = await run(() => Array(3).fill({ numbers: {}, answer: "999" }));
    assert.deepStrictEqual(Object.values(none), problems.map(() => false));
  });

  it("a training search sends one ExpandRequest a wave, graded by the Expander, and asks a Scorer only for PPM values", async () => {
    const counts = async (usePpm: boolean) => {
      const policy = new RecordingPolicy();
      const bus = new InProcessBus();
      const sys = startScriptedSystem({ bus, blobs, run: "t", roles: ["expander", "scorer", "searcher"], policy, maxWaitMs: 2 });
      const results = await search(sys, usePpm);
      await sys.stop();
      const terminals = results.flatMap((r) => r.tree.nodes.filter((n) => n.terminal && n.answer !== undefined));
      return { stats: sys.search!.stats(), asks: policy.seen.length, results, terminals };
    };
    const plain = await counts(false);
    assert.strictEqual(plain.stats.scoreRequests, 0, "no ScoreRequest without a PPM");
    assert.isBelow(plain.stats.expandRequests, plain.asks, "a request carries several asks");
    // Every terminal answer was graded: +1 where it equals the reference, -1 elsewhere.
    const reference = new Map(problems.map((p) => [p.id, p.answer]));
    for (const r of plain.results) {
      for (const n of r.tree.nodes.filter((n) => n.terminal && n.answer !== undefined)) {
        assert.strictEqual(n.reward, n.answer === reference.get(r.problemId) ? 1 : -1);
      }
    }
    assert.isTrue(plain.terminals.some((n) => n.reward === 1) && plain.terminals.some((n) => n.reward === -1));
    const ppm = await counts(true);
    assert.isAbove(ppm.stats.scoreRequests, 0);
    assert.isAtMost(ppm.stats.scoreRequests, ppm.stats.expandRequests, "at most one ScoreRequest a wave");
    assert.isTrue(ppm.terminals.every((n) => n.reward === 1 || n.reward === -1), "a training terminal's reward is its grade, not a value");
  });

  it("a training search has a Scorer grade the terminals an Expander left ungraded (a worker that ignores `grade`)", async () => {
    const trees = async (foreign: boolean) => {
      const bus = new InProcessBus();
      const policy = new ScriptedPolicy();
      const executor = new SafeExecutor();
      // A worker written against the wire alone: samples and executes, never grades.
      const served = foreign
        ? serve(bus, runSubjects("t").expand, ExpandRequest, async (req): Promise<ExpandReply> => {
          const out = await expandBatch(policy, executor, req.asks.map((a) => ({ problem: req.problem, steps: a.steps, k: req.k, temperature: req.temperature, topP: req.topP, seed: a.seed })));
          return { v: PROTOCOL_VERSION, id: req.id, results: out.map((r) => ({ candidates: r.candidates.map(toWire), policyVersion: policy.version, tokens: r.tokens })) };
        }, { queue: QueueGroups.expander, replySchema: ExpandReply, log: () => {} })
        : undefined;
      const sys = startScriptedSystem({ bus, blobs, run: "t", roles: foreign ? ["scorer", "searcher"] : ["expander", "scorer", "searcher"] });
      const results = await search(sys);
      await sys.stop();
      await served?.drain();
      return { byId: Object.fromEntries(results.map((r) => [r.problemId, JSON.stringify(r.tree)])), scoreRequests: sys.search!.stats().scoreRequests };
    };
    const native = await trees(false);
    const foreign = await trees(true);
    assert.strictEqual(native.scoreRequests, 0);
    assert.isAbove(foreign.scoreRequests, 0, "the Scorer graded what the worker did not");
    assert.deepStrictEqual(foreign.byId, native.byId, "the same trees, graded the same");
  });

  it("the same seed yields identical trees", async () => {
    const a = system();
    const b = system();
    const ra = await search(a.sys);
    const rb = await search(b.sys);
    const byId = (rs: ProblemResult[]) => Object.fromEntries(rs.map((r) => [r.problemId, JSON.stringify(r.tree)]));
    assert.deepStrictEqual(byId(ra), byId(rb));
    await a.sys.stop();
    await b.sys.stop();
  });

  it("an expander crash is restarted by the supervisor and the search still answers every problem once", async () => {
    const { sys, crash } = system(0.3);
    const results = await search(sys);
    assert.isAbove(crash.counts().expander ?? 0, 0);
    assert.isAbove(sys.supervisor.restarts()["expander-0"] ?? 0, 0);
    assert.deepStrictEqual(results.map((r) => r.problemId).sort(), problems.map((p) => p.id));
    await sys.stop();
  });

  it("the supervisor gives up after its limit with an error naming the actor and its last failure", async () => {
    const { sys, failure } = await crashUntilGivenUp(3);
    assert.strictEqual(failure?._tag, "SupervisorFailed");
    assert.strictEqual(failure?.actor, "expander-0");
    assert.match(failure!.message, /gave up after 3 restarts: last failure: Injected crash in expander/);
    await sys.stop();
  });

  it("a search, a stop and a supervisor that gives up leave no warnings from the actor runtime on the console", async () => {
    const printed: string[] = [];
    const saved = { warn: console.warn, error: console.error };
    console.warn = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
    console.error = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
    try {
      const { sys } = system();
      await search(sys, true);
      await sys.stop();
      const { sys: failing, failure } = await crashUntilGivenUp(2);
      await failing.stop();
      await new Promise((r) => setTimeout(r, 20));
      assert.strictEqual(failure?._tag, "SupervisorFailed");
    } finally {
      console.warn = saved.warn;
      console.error = saved.error;
    }
    assert.deepEqual(printed.filter((line) => /stopped actor|has already reached its final state/.test(line)), []);
  });

  it("control status, pause, resume and set round-trip over the bus", async () => {
    const { bus, sys } = system();
    sys.control.setPhase(2, "search", { done: 1, total: 6 });
    const verb = async <A, R>(v: keyof typeof ControlMessages, body: object) => {
      const m = ControlMessages[v] as unknown as { request: MessageSchema<A>; reply: MessageSchema<R> };
      return await call(bus, runSubjects("t").control(v), m.request, m.reply, { v: PROTOCOL_VERSION, id: v, ...body } as A, { timeoutMs: 1000 });
    };
    const status = await verb("status", {});
    assert.isTrue(Result.isSuccess(status));
    assert.deepInclude(Result.getOrThrow(status) as object, { round: 2, phase: "search", paused: false });
    await verb("pause", {});
    assert.isTrue(sys.control.paused);
    await verb("resume", {});
    assert.isFalse(sys.control.paused);
    const first = await verb("set", { key: "rollouts", value: 5 });
    assert.notProperty(Result.getOrThrow(first) as object, "previous", "a knob never set before has no previous value");
    const set = await verb("set", { key: "rollouts", value: 3 });
    assert.deepInclude(Result.getOrThrow(set) as object, { key: "rollouts", value: 3, previous: 5 });
    const raw = JSON.stringify({ v: PROTOCOL_VERSION, id: "bad", key: "depth", value: 3 });
    const badSet = await bus.request(runSubjects("t").control("set"), new TextEncoder().encode(raw), { timeoutMs: 1000 });
    assert.strictEqual(badSet.headers["Rstar-Error"], "BadRequest");
    const zero = await verb("set", { key: "k", value: 0 });
    assert.isTrue(Result.isFailure(zero));
    // The knob applies to problems started afterwards.
    const results = await search(sys);
    assert.isTrue(results.every((r) => r.tree.config.rollouts === 3));
    await sys.stop();
  });

  it("a rollouts knob keeps a bigger-budget pass's proportion: a batch with rolloutScale 2 searches twice the knob", async () => {
    const { sys } = system();
    sys.control.setKnob("rollouts", 3);
    const rollouts = async (rolloutScale?: number) => {
      const seen: number[] = [];
      await sys.search!.run(
        { round: 1, mode: "train", problems: problems.slice(0, 2), config: { rollouts: 12, k: 3, maxDepth: 4 }, usePpm: false, seed: 11, pass: `x${rolloutScale ?? 1}`, ...(rolloutScale ? { rolloutScale } : {}) },
        (r) => (seen.push(r.tree.config.rollouts), Promise.resolve()),
      );
      return seen;
    };
    assert.deepStrictEqual(await rollouts(), [3, 3], "the knob replaces the first pass's budget");
    assert.deepStrictEqual(await rollouts(2), [6, 6], "a retry pass searches retryMultiplier times the knob");
    await sys.stop();
  });

  it("control solve answers a problem from outside with its steps and model versions", async () => {
    const { bus, sys } = system();
    const rep = await call(bus, runSubjects("t").control("solve"), ControlMessages.solve.request, ControlMessages.solve.reply, {
      v: PROTOCOL_VERSION,
      id: "s1",
      problem: "What is x plus one?",
      rollouts: 4,
    }, { timeoutMs: 5000 });
    const reply = Result.getOrThrow(rep);
    assert.notStrictEqual(reply.answer, "");
    assert.strictEqual(reply.steps.length, 3);
    assert.strictEqual(reply.steps[2]!.code, "print(y)");
    assert.deepStrictEqual(reply.versions, { policy: "scripted-v1", ppm: "const-v1" });
    await sys.stop();
  });

  it("a search samples the policy at the batch's temperature and top-p, and a control knob overrides the temperature", async () => {
    const policy = new RecordingPolicy();
    const sys = startScriptedSystem({ bus: new InProcessBus(), blobs, run: "t", roles: ["expander", "scorer", "searcher"], policy });
    const batch = { round: 2, mode: "train" as const, problems: problems.slice(0, 2), config: { rollouts: 3, k: 2, maxDepth: 4 }, usePpm: false, seed: 5, temperature: 0.6, topP: 0.9 };
    await sys.search!.run(batch, () => Promise.resolve());
    assert.isAbove(policy.seen.length, 0);
    assert.deepStrictEqual([...new Set(policy.seen.map((r) => `${r.temperature}/${r.topP}`))], ["0.6/0.9"]);
    policy.seen.length = 0;
    sys.search!.set({ temperature: 0.3 });
    await sys.search!.run({ ...batch, round: 3 }, () => Promise.resolve());
    assert.deepStrictEqual([...new Set(policy.seen.map((r) => `${r.temperature}/${r.topP}`))], ["0.3/0.9"]);
    await sys.stop();
  });

  it("a paused search starts no new problem until resumed", async () => {
    const { sys } = system();
    sys.search!.pause();
    let got = 0;
    const running = sys.search!.run(
      { round: 1, mode: "test", problems, config: { rollouts: 2, k: 2, maxDepth: 4 }, usePpm: false, seed: 1, concurrency: 2 },
      () => {
        got++;
        return Promise.resolve();
      },
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.strictEqual(got, 0);
    sys.search!.resume();
    await running;
    assert.strictEqual(got, problems.length);
    await sys.stop();
  });
});
