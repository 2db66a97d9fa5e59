import { assert, describe, it } from "vitest";
import { Effect, Layer } from "effect";
import type { Problem } from "../../math/contracts.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { silentLogger } from "../../actors/log.ts";
import { ConstantScorer, exactGrade, ScriptedPolicy } from "../../actors/scriptedPolicy.ts";
import {
  ActorSystem,
  BlobStoreService,
  BusService,
  ClockService,
  LoggerService,
  ModelsService,
  searchBatch,
} from "../../actors/services.ts";
import { BusError } from "../../protocols/bus.ts";
import { InMemoryBlobStore, InProcessBus } from "../../protocols/inProcessBus.ts";
import { runSubjects } from "../../protocols/subjects.ts";

const problems: Problem[] = [{ id: "a", family: "toy", level: 2, problem: "p", answer: "1" }];

describe("ActorSystem layer", () => {
  it("runs a search with swapped-in services and stops the actors when the scope closes", async () => {
    const bus = new InProcessBus();
    const deps = Layer.mergeAll(
      Layer.succeed(BusService, bus),
      Layer.succeed(BlobStoreService, new InMemoryBlobStore()),
      ClockService.layer,
      Layer.succeed(LoggerService, silentLogger),
      Layer.succeed(ModelsService, {
        policy: new ScriptedPolicy(),
        scorer: new ConstantScorer(),
        executor: new SafeExecutor(),
        grade: exactGrade,
      }),
    );
    const layer = ActorSystem.layer({ run: "t", roles: ["expander", "scorer", "searcher"] }).pipe(Layer.provide(deps));
    let got = 0;
    await Effect.runPromise(
      searchBatch(
        { round: 1, mode: "train", problems, config: { rollouts: 3, k: 2, maxDepth: 4 }, usePpm: false, seed: 1 },
        () => {
          got++;
          return Promise.resolve();
        },
      ).pipe(Effect.provide(layer)),
    );
    assert.strictEqual(got, 1);
    // The scope closed: no expander answers any more.
    const err = await bus.request(runSubjects("t").expand, new Uint8Array(), { timeoutMs: 200 }).catch((e) => e);
    assert.instanceOf(err, BusError);
    assert.strictEqual((err as BusError).reason, "NoResponders");
  });
});
