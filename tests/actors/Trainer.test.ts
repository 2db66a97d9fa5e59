import { assert, describe, it } from "vitest";
import { Result } from "effect";
import type { Problem } from "../../math/contracts.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { fromBytes } from "../../models/checkpoint.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { silentLogger } from "../../actors/log.ts";
import { getModel, latestVersion } from "../../actors/modelStore.ts";
import { ConstantScorer, exactGrade, ScriptedPolicy } from "../../actors/scriptedPolicy.ts";
import type { ProblemResult } from "../../actors/searchService.ts";
import { startSystem } from "../../actors/system.ts";
import { extractRoundData } from "../../actors/trainer.ts";
import { call, listen } from "../../protocols/codec.ts";
import { InMemoryBlobStore, InProcessBus } from "../../protocols/inProcessBus.ts";
import { ModelPublished, PROTOCOL_VERSION, TrainReply, TrainRequest } from "../../protocols/messages.ts";
import { runSubjects } from "../../protocols/subjects.ts";

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
    const sys = startSystem({
      bus,
      blobs,
      run: "t",
      roles: ["expander", "scorer", "searcher", "trainer"],
      policy: new ScriptedPolicy(),
      scorer: new ConstantScorer(),
      executor: new SafeExecutor(),
      log: silentLogger,
      grade: exactGrade,
    });
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
