import { assert, describe, it } from "vitest";
import { Result } from "effect";
import type { Problem } from "../../math/contracts.ts";
import { fromBytes } from "../../models/checkpoint.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { getModel, latestVersion } from "../../actors/modelStore.ts";
import type { ProblemResult } from "../../actors/searchService.ts";
import { extractRoundData, startTrainerCore } from "../../actors/trainer.ts";
import { trainerMachine } from "../../actors/trainerMachine.ts";
import { createActor } from "xstate";
import { call, listen, ProtocolError } from "../../protocols/codec.ts";
import { InMemoryBlobStore, InProcessBus } from "../../protocols/inProcessBus.ts";
import { ModelPublished, PROTOCOL_VERSION, TrainReply, TrainRequest } from "../../protocols/messages.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import { startScriptedSystem } from "../helpers/scriptedSystem.ts";

const problems: Problem[] = Array.from({ length: 4 }, (_, i) => ({
  id: `q${i}`,
  family: "toy",
  level: 2,
  problem: `Add up the numbers ${i}`,
  answer: String(i % 5),
}));

describe("Trainer", () => {
  it("trains a policy from a round's trees, stores it and announces the new version", async () => {
    const bus = new InProcessBus();
    const blobs = new InMemoryBlobStore();
    const sys = startScriptedSystem({ bus, blobs, run: "t", roles: ["expander", "scorer", "searcher", "trainer"] });
    const trees: ProblemResult["tree"][] = [];
    await sys.search!.run(
      { round: 1, mode: "train", problems, config: { rollouts: 6, k: 3, maxDepth: 4 }, usePpm: false, seed: 2 },
      (r) => {
        trees.push(r.tree);
        return Promise.resolve();
      },
    );
    const data = extractRoundData(trees);
    assert.isAbove(data.sft.length, 0);
    await blobs.put("data/r1.jsonl", new TextEncoder().encode(trees.map((t) => JSON.stringify(t)).join("\n")));
    const announced: string[] = [];
    listen(bus, runSubjects("t").model, ModelPublished, (m) => {
      announced.push(m.version);
    });
    const req: TrainRequest = {
      v: PROTOCOL_VERSION,
      id: "train-1",
      run: "t",
      round: 1,
      kind: "policy",
      data: "data/r1.jsonl",
      params: { epochs: 1, batchSize: 8 },
    };
    const rep = await call(bus, runSubjects("t").train, TrainRequest, TrainReply, req, { timeoutMs: 60_000 });
    assert.isTrue(Result.isSuccess(rep));
    const reply = Result.getOrThrow(rep);
    assert.strictEqual(reply.version, "policy-r1");
    assert.strictEqual(reply.metrics.examples, data.sft.length);
    assert.strictEqual(await latestVersion(blobs, "policy"), "policy-r1");
    const bytes = await getModel(blobs, "policy", "policy-r1");
    assert.isFalse("_tag" in bytes);
    const model = fromBytes(bytes as Uint8Array);
    assert.instanceOf(model, TinyPolicy);
    assert.strictEqual(model.version, "policy-r1");
    await bus.flush();
    assert.deepStrictEqual(announced, ["policy-r1"]);

    const missing = await call(bus, runSubjects("t").train, TrainRequest, TrainReply, { ...req, id: "train-2", data: "nope" }, {
      timeoutMs: 5000,
    });
    assert.isTrue(Result.isFailure(missing) && missing.failure._tag === "RemoteError" && missing.failure.code === "BadRequest");
    await sys.stop();
  });
});

describe("Trainer machine", () => {
  const request = (id: string, round = 1): TrainRequest => ({
    v: PROTOCOL_VERSION,
    id,
    run: "t",
    round,
    kind: "policy",
    data: `data/${id}.jsonl`,
  });
  const reply = (req: TrainRequest): TrainReply => ({
    v: PROTOCOL_VERSION,
    id: req.id,
    round: req.round,
    kind: req.kind,
    version: `${req.kind}-r${req.round}`,
    blob: `models/${req.kind}/${req.kind}-r${req.round}`,
    metrics: { examples: 1, steps: 1, seconds: 0 },
  });
  const tick = () => new Promise((r) => setTimeout(r, 0));

  /** A train function that holds each job until `finish(id)`. */
  function heldTraining() {
    const log: string[] = [];
    const open = new Map<string, () => void>();
    const train = async (req: TrainRequest): Promise<TrainReply | ProtocolError> => {
      log.push(`start ${req.id}`);
      await new Promise<void>((r) => open.set(req.id, r));
      log.push(`end ${req.id}`);
      if (req.id.startsWith("bad")) throw new Error("training diverged");
      if (req.id.startsWith("empty")) return new ProtocolError({ code: "BadRequest", message: "no examples" });
      return reply(req);
    };
    return { log, train, finish: (id: string) => open.get(id)?.() };
  }

  it("queues a train request that arrives while another trains and runs it after, in order", async () => {
    const t = heldTraining();
    const actor = createActor(trainerMachine, { input: { train: t.train } });
    const states: string[] = [];
    actor.subscribe((s) => {
      const now = `${String(s.value)}:${s.context.queue.length}`;
      if (states[states.length - 1] !== now) states.push(now);
    });
    actor.start();
    const core = { submit: (r: TrainRequest) => new Promise<unknown>((resolve, reject) => actor.send({ type: "job", job: { request: r, resolve, reject } })) };
    const first = core.submit(request("a", 1));
    await tick();
    const second = core.submit(request("b", 2));
    await tick();
    // Queued, not refused, and not started while the first trains.
    assert.deepStrictEqual(t.log, ["start a"]);
    assert.strictEqual(actor.getSnapshot().value, "training");
    assert.strictEqual(actor.getSnapshot().context.queue.length, 1);
    t.finish("a");
    assert.deepInclude(await first, { version: "policy-r1" });
    await tick();
    assert.deepStrictEqual(t.log, ["start a", "end a", "start b"]);
    t.finish("b");
    assert.deepInclude(await second, { version: "policy-r2" });
    assert.strictEqual(actor.getSnapshot().context.version, "policy-r2");
    assert.strictEqual(actor.getSnapshot().context.jobs, 2);
    assert.deepStrictEqual(states, ["idle:0", "training:0", "training:1", "training:0", "idle:0"]);
    actor.stop();
  });

  it("a failing or refused job answers its own request and the trainer goes on with the next", async () => {
    const t = heldTraining();
    const core = startTrainerCore({ train: t.train });
    const settled = Promise.allSettled([core.submit(request("bad-1")), core.submit(request("empty-1")), core.submit(request("good", 3))]);
    for (const id of ["bad-1", "empty-1", "good"]) {
      await tick();
      t.finish(id);
    }
    const [rb, re, rg] = await settled;
    assert.match(String((rb as PromiseRejectedResult).reason), /training diverged/);
    assert.instanceOf((re as PromiseFulfilledResult<unknown>).value, ProtocolError);
    assert.deepInclude((rg as PromiseFulfilledResult<unknown>).value as object, { version: "policy-r3" });
    // The refusal does not count as a published version.
    assert.strictEqual(core.version(), "policy-r3");
    await core.stop();
  });

  it("stop finishes the queued jobs, then refuses new ones", async () => {
    const t = heldTraining();
    const core = startTrainerCore({ train: t.train });
    const jobs = [core.submit(request("a", 1)), core.submit(request("b", 2))];
    await tick();
    const stopped = core.stop();
    t.finish("a");
    await tick();
    t.finish("b");
    await stopped;
    assert.deepStrictEqual((await Promise.all(jobs)).map((r) => (r as TrainReply).version), ["policy-r1", "policy-r2"]);
    let refused: unknown;
    await core.submit(request("c")).catch((e) => (refused = e));
    assert.match(String(refused), /Trainer is not running/);
  });
});
