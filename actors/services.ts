/**
 * The actor system as Effect services: the Bus, BlobStore, clock, logger and models are
 * services provided by Layers (so tests swap transports and models), and `ActorSystem.layer`
 * acquires a running system and releases it (draining in-flight work) when its scope closes.
 */
import { Context, Effect, Layer } from "effect";
import type { StepExecutor, StepProposer, StepScorer } from "../math/contracts.ts";
import type { BlobStore, Bus } from "../protocols/bus.ts";
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import type { Logger } from "./log.ts";
import type { Grader } from "./scorer.ts";
import type { OnResult, SearchBatch } from "./searchService.ts";
import { SearchFailed } from "./searchService.ts";
import type { SystemHandle, SystemOptions } from "./system.ts";
import { startSystem } from "./system.ts";

/** The message bus. */
export class BusService extends Context.Service<BusService, Bus>()("rstar/actors/Bus") {}

/** The run's blob store (model weights, training data). */
export class BlobStoreService extends Context.Service<BlobStoreService, BlobStore>()("rstar/actors/BlobStore") {}

/** The clock actors read. */
export class ClockService extends Context.Service<ClockService, Clock>()("rstar/actors/Clock") {
  /** The real clock. */
  static readonly layer = Layer.succeed(ClockService, systemClock);
}

/** The structured logger. */
export class LoggerService extends Context.Service<LoggerService, Logger>()("rstar/actors/Logger") {}

/** The models and executor the local actors serve. */
export interface Models {
  readonly policy: StepProposer;
  readonly scorer: StepScorer | undefined;
  readonly executor: StepExecutor;
  readonly grade: Grader;
  readonly loadPolicy?: (version: string) => Promise<StepProposer>;
  readonly loadScorer?: (version: string) => Promise<StepScorer>;
}

/** The models service. */
export class ModelsService extends Context.Service<ModelsService, Models>()("rstar/actors/Models") {}

/** Settings of a system that are not services. */
export type SystemSettings = Omit<
  SystemOptions,
  "bus" | "blobs" | "clock" | "log" | "policy" | "scorer" | "executor" | "grade" | "loadPolicy" | "loadScorer"
>;

/** A running actor system. */
export class ActorSystem extends Context.Service<ActorSystem, SystemHandle>()("rstar/actors/ActorSystem") {
  /** Starts the system on acquisition and stops it (draining) when the scope closes. */
  static layer(settings: SystemSettings) {
    return Layer.effect(
      ActorSystem,
      Effect.gen(function* () {
        const bus = yield* BusService;
        const blobs = yield* BlobStoreService;
        const clock = yield* ClockService;
        const log = yield* LoggerService;
        const models = yield* ModelsService;
        return yield* Effect.acquireRelease(
          Effect.sync(() =>
            startSystem({
              ...settings,
              bus,
              blobs,
              clock,
              log,
              policy: models.policy,
              scorer: models.scorer,
              executor: models.executor,
              grade: models.grade,
              ...(models.loadPolicy === undefined ? {} : { loadPolicy: models.loadPolicy }),
              ...(models.loadScorer === undefined ? {} : { loadScorer: models.loadScorer }),
            })
          ),
          (system) => Effect.promise(() => system.stop()),
        );
      }),
    );
  }
}

/** Searches a batch with the system's search service; fails with `SearchFailed`. */
export function searchBatch(batch: SearchBatch, onResult: OnResult): Effect.Effect<void, SearchFailed, ActorSystem> {
  return Effect.gen(function* () {
    const system = yield* ActorSystem;
    const search = system.search;
    if (search === undefined) {
      return yield* Effect.fail(new SearchFailed("*", "start the system with the searcher role"));
    }
    yield* Effect.tryPromise({
      try: () => search.run(batch, onResult),
      catch: (err) => err instanceof SearchFailed ? err : new SearchFailed("*", String(err), { cause: err }),
    });
  });
}
