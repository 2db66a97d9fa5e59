/**
 * Actor benchmarks. `expander.batching_speedup.b64`: expansions/s of one Expander machine fed 64
 * concurrent requests with dynamic batching (max batch 64) ÷ the same requests one at a time
 * (max batch 1), with the real TinyPolicy (`quick` preset, k = 4) and the safe executor.
 * `expander.scaling.2proc`: expansions/s with 2 `rstar worker` processes ÷ 1, over NATS
 * (measured by `benchScaling` when a NATS server answers; see docs/ACTORS.md).
 */
import { renderStep } from "../../math/contracts.ts";
import type { ProposeRequest } from "../../math/contracts.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { Prng } from "../../math/prng.ts";
import { initBackend } from "../../models/backend.ts";
import { PRESETS, TinyPolicy } from "../../models/policy.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import { systemClock } from "../../actors/clock.ts";
import { noCrashes } from "../../actors/crashInjector.ts";
import { startExpanderCore } from "../../actors/expander.ts";
import { syntheticExample } from "./models.ts";

/** One figure (the shape `scripts/bench/index.ts` collects). */
export interface ActorFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly target?: number;
  readonly ok?: boolean;
  readonly detail?: unknown;
}

/** Expansions per second of an expander with `maxBatch`, fed `requests` all at once, `reps` times. */
async function expansionsPerSecond(
  policy: TinyPolicy,
  requests: readonly ProposeRequest[],
  maxBatch: number,
  reps: number,
): Promise<{ rate: number; batches: number }> {
  const core = startExpanderCore({
    policy,
    executor: new SafeExecutor(),
    loadPolicy: () => Promise.reject(new Error("Cannot load a policy in the benchmark")),
    crash: noCrashes,
    maxBatch,
    maxWaitMs: 2,
  }, systemClock);
  try {
    await core.submit(requests[0]!); // warm-up
    const before = core.batches();
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) await Promise.all(requests.map((q) => core.submit(q)));
    const secs = (performance.now() - t0) / 1000;
    return { rate: (requests.length * reps) / secs, batches: core.batches() - before };
  } finally {
    await core.stop();
  }
}

/** Runs the actor benchmarks. */
export async function benchActors(opts: { quick: boolean }): Promise<ActorFigure[]> {
  const backend = await initBackend();
  const rng = Prng.fromSeed(11);
  const examples = Array.from({ length: 64 }, () => syntheticExample(rng));
  const tok = Tokenizer.build(examples.flatMap((e) => [e.problem, ...e.steps.map(renderStep)]));
  const policy = TinyPolicy.create(PRESETS.quick, tok, 1);
  const requests: ProposeRequest[] = examples.map((e, i) => ({
    problem: e.problem,
    steps: e.steps.slice(0, 1),
    k: 4,
    temperature: 1,
    topP: 1,
    seed: i,
  }));
  const reps = opts.quick ? 1 : 3;
  const batched = await expansionsPerSecond(policy, requests, 64, reps);
  const single = await expansionsPerSecond(policy, opts.quick ? requests.slice(0, 16) : requests, 1, 1);
  return [{
    name: "expander.batching_speedup.b64",
    value: batched.rate / single.rate,
    unit: "ratio",
    detail: { backend, preset: "quick", k: 4, batchedPerS: batched.rate, singlePerS: single.rate, batches: batched.batches },
  }];
}
