/**
 * Actor benchmarks. `expander.batching_speedup.b64`: expansions/s of one Expander machine fed 64
 * concurrent requests with dynamic batching (max batch 64) ÷ the same requests one at a time
 * (max batch 1), with the real TinyPolicy (`quick` preset, k = 4) and the safe executor.
 * `expander.scaling.2proc`: expansions/s with 2 `rstar worker --role expander` processes ÷ 1,
 * over NATS (RSTAR_NATS_URL, default nats://127.0.0.1:4222), the same TinyPolicy published to
 * the run's object store, 64 requests kept in flight by this process.
 */
import type { BenchFigure } from "./index.ts";
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
import { Result } from "effect";
import { toBytes } from "../../models/checkpoint.ts";
import { call } from "../../protocols/codec.ts";
import { ExpandReply, ExpandRequest, PROTOCOL_VERSION } from "../../protocols/messages.ts";
import { connectNatsBus, natsBlobStore } from "../../protocols/natsBus.ts";
import type { NatsBus } from "../../protocols/natsBus.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import { putModel } from "../../actors/modelStore.ts";

/** One figure (the shape `scripts/bench/index.ts` collects). */
export type ActorFigure = BenchFigure;

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
  const figures: ActorFigure[] = [{
    name: "expander.batching_speedup.b64",
    value: batched.rate / single.rate,
    unit: "ratio",
    detail: { backend, preset: "quick", k: 4, batchedPerS: batched.rate, singlePerS: single.rate, batches: batched.batches },
  }];
  figures.push(await benchScaling(policy, requests, opts.quick));
  return figures;
}

/** Expansions/s over NATS with 2 worker processes ÷ with 1. */
async function benchScaling(policy: TinyPolicy, requests: readonly ProposeRequest[], quick: boolean): Promise<ActorFigure> {
  const url = Deno.env.get("RSTAR_NATS_URL") ?? "nats://127.0.0.1:4222";
  const run = `bench-${Deno.pid}-${Date.now()}`;
  const bus = await connectNatsBus(url, { log: () => {} });
  try {
    const blobs = await natsBlobStore(bus.nc, `rstar-${run}`);
    policy.version = "bench-v1";
    await putModel(blobs, "policy", "bench-v1", toBytes(policy));
    const total = quick ? 128 : 384;
    const one = await ratePerProcesses(bus, run, url, requests, 1, total);
    const two = await ratePerProcesses(bus, run, url, requests, 2, total);
    return {
      name: "expander.scaling.2proc",
      value: two / one,
      unit: "ratio",
      detail: { onePerS: one, twoPerS: two, total, inFlight: 64, cores: navigator.hardwareConcurrency },
    };
  } finally {
    await bus.close();
  }
}

async function ratePerProcesses(
  bus: NatsBus,
  run: string,
  url: string,
  requests: readonly ProposeRequest[],
  processes: number,
  total: number,
): Promise<number> {
  const workers = Array.from({ length: processes }, (_, i) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", new URL("../rstar.ts", import.meta.url).pathname, "worker", "--role", "expander", "--nats", url, "--run", run, "--id", `bench-${i}`],
      stdout: "null",
      stderr: "piped",
    }).spawn());
  try {
    await Promise.all(workers.map((w) => untilReady(w.stderr)));
    let sent = 0;
    const expandOne = async (tag: string) => {
      const r = requests[sent % requests.length]!;
      const req: ExpandRequest = {
        v: PROTOCOL_VERSION,
        id: `${run}-${processes}-${tag}-${sent++}`,
        run,
        problem: r.problem,
        asks: [{ steps: [...r.steps], seed: r.seed }],
        k: r.k,
        temperature: r.temperature,
        topP: r.topP,
      };
      const rep = await call(bus, runSubjects(run).expand, ExpandRequest, ExpandReply, req, { timeoutMs: 120_000 });
      if (Result.isFailure(rep)) throw new Error(`Cannot expand in the scaling benchmark: ${rep.failure.message}`);
    };
    await Promise.all(Array.from({ length: 8 * processes }, () => expandOne("warm")));
    sent = 0;
    const t0 = performance.now();
    const lane = async () => {
      while (sent < total) await expandOne("run");
    };
    await Promise.all(Array.from({ length: 64 }, lane));
    return total / ((performance.now() - t0) / 1000);
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    for (const w of workers) {
      await w.stderr.cancel().catch(() => {});
      await w.status;
    }
  }
}

async function untilReady(stderr: ReadableStream<Uint8Array>): Promise<void> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Cannot start a worker for the scaling benchmark: ${buf.slice(-300)}`);
    buf += value;
    if (buf.includes("Worker ready")) break;
  }
  reader.releaseLock();
}
