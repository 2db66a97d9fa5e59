/**
 * `rollout.messaging_share.nats`: the share of a rollout's wall time spent in messaging rather
 * than in model, execution and search work, measured on a smoke search over NATS.
 *
 * The search runs in this process exactly as `rstar evolve --preset smoke --rounds 1 --nats URL`
 * runs its round-1 search (Searcher, Expander and Scorer on one NATS connection, the bootstrap
 * policy, the smoke preset's knobs), with a `SearchMeter` on the search service. Every reply
 * carries the responder's own time (`workMs`: from its decoded request to its reply, batching wait
 * included), and the searcher times each request from sending to the decoded reply.
 *
 * A problem's search is a sequence of stages (a wave's ExpandRequest, then the wave's
 * ScoreRequest when a PPM runs, and so on); stages of one problem never overlap, and
 * problems run side by side. A stage's messaging time is what the stage would lose if messaging
 * were free: its wall time minus the longest `workMs` among its requests. Summing the requests'
 * (round trip − work) instead would count overlapping waits several times. The figure is
 *
 *   Σ over all stages (stage wall − max work in the stage) ÷ Σ over problems (problem wall)
 *
 * i.e. per problem, the fraction of its search time spent waiting on messaging, weighted by
 * search time. Everything else is work (the longest request's `workMs`) or the searcher's own
 * time between stages (tree operations, waiting for the event loop).
 */
import type { Problem } from "../../math/contracts.ts";
import { generateProblems } from "../../math/generator.ts";
import { answersEqual } from "../../math/grade.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { BootstrapPolicy } from "../../models/bootstrapPolicy.ts";
import { deriveSeed } from "../../actors/coordinator.ts";
import { silentLogger } from "../../actors/log.ts";
import type { SearchMeter, StageTiming } from "../../actors/searchService.ts";
import { createSearchService } from "../../actors/searchService.ts";
import { startSystem } from "../../actors/system.ts";
import type { Bus } from "../../protocols/bus.ts";
import { InMemoryBlobStore, InProcessBus } from "../../protocols/inProcessBus.ts";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { PRESET_CONFIGS } from "../run/config.ts";
import type { BenchFigure } from "./index.ts";

/** What the meter collected. */
export interface MeterLog {
  readonly stages: StageTiming[];
  /** Wall ms per problem. */
  readonly problems: Map<string, number>;
}

/** A meter that keeps every stage and problem timing. */
export function collectingMeter(): SearchMeter & { readonly log: MeterLog } {
  const log: MeterLog = { stages: [], problems: new Map() };
  return {
    log,
    stage: (t) => void log.stages.push(t),
    problem: (id, ms) => void log.problems.set(id, ms),
  };
}

/** The split of the problems' summed search time. */
export interface MessagingBreakdown {
  /** Σ (stage wall − longest work in the stage) ÷ Σ problem wall; NaN without problems. */
  readonly share: number;
  /** Σ longest work per stage ÷ Σ problem wall. */
  readonly workShare: number;
  /** Σ (problem wall − its stages' wall) ÷ Σ problem wall: the searcher's own time between stages. */
  readonly searcherShare: number;
  readonly problemMs: number;
  readonly messagingMs: number;
  readonly problems: number;
  readonly stages: number;
  readonly requests: number;
  /** Requests whose reply carried no `workMs` (their stage counts them as work 0). */
  readonly unmetered: number;
  /** Per request, round trip − work, in ms: median and 90th percentile. */
  readonly overheadMs: { readonly p50: number; readonly p90: number };
  /** Per stage kind: stages, mean wall ms, mean longest work ms, mean messaging ms. */
  readonly byStage: Record<string, { stages: number; wallMs: number; workMs: number; messagingMs: number }>;
}

const quantile = (xs: readonly number[], q: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** Splits the metered search time into messaging, work and the searcher's own time. */
export function messagingBreakdown(log: MeterLog): MessagingBreakdown {
  let problemMs = 0;
  for (const ms of log.problems.values()) problemMs += ms;
  let messagingMs = 0;
  let workMs = 0;
  let stageMs = 0;
  let stages = 0;
  let requests = 0;
  let unmetered = 0;
  const overheads: number[] = [];
  const byStage: MessagingBreakdown["byStage"] = {};
  for (const s of log.stages) {
    if (!log.problems.has(s.problemId)) continue;
    const work = Math.max(0, ...s.calls.map((c) => c.workMs ?? 0));
    const messaging = Math.max(0, s.ms - work);
    messagingMs += messaging;
    workMs += Math.min(work, s.ms);
    stageMs += s.ms;
    stages++;
    requests += s.calls.length;
    for (const c of s.calls) {
      if (c.workMs === undefined) unmetered++;
      else overheads.push(c.ms - c.workMs);
    }
    const k = (byStage[s.stage] ??= { stages: 0, wallMs: 0, workMs: 0, messagingMs: 0 });
    k.stages++;
    k.wallMs += s.ms;
    k.workMs += Math.min(work, s.ms);
    k.messagingMs += messaging;
  }
  for (const k of Object.values(byStage)) {
    k.wallMs /= k.stages;
    k.workMs /= k.stages;
    k.messagingMs /= k.stages;
  }
  const of = (x: number) => (problemMs > 0 ? x / problemMs : Number.NaN);
  return {
    share: of(messagingMs),
    workShare: of(workMs),
    searcherShare: of(Math.max(0, problemMs - stageMs)),
    problemMs,
    messagingMs,
    problems: log.problems.size,
    stages,
    requests,
    unmetered,
    overheadMs: { p50: quantile(overheads, 0.5), p90: quantile(overheads, 0.9) },
    byStage,
  };
}

/** The first `count` of evolve's round-1 training problems for `seed` (levels 1–5, interleaved). */
export function smokeProblems(count: number, seed = 1): Problem[] {
  const levels = PRESET_CONFIGS.smoke.train.levels;
  const roundSeed = deriveSeed(seed, "train-round", 1);
  const per = levels.map((_, i) => Math.floor(count / levels.length) + (i < count % levels.length ? 1 : 0));
  const groups = levels.map((level, i) =>
    generateProblems({ count: per[i]!, seed: deriveSeed(roundSeed, "train", level), level, split: "train" })
      .map((p) => ({ ...p, id: `bench-${p.id}` }))
  );
  const out: Problem[] = [];
  for (let i = 0; i < Math.max(0, ...per); i++) for (const g of groups) if (i < g.length) out.push(g[i]!);
  return out;
}

/** Settings of one metered search. */
export interface MeteredSearchOptions {
  /** NATS URL, or "inproc" for the in-process bus (the same codec, no transport). */
  readonly url: string;
  readonly problems: number;
  readonly seed?: number;
  readonly signal?: AbortSignal;
}

/** Runs a smoke round-1 search over NATS with a meter and returns what it collected. */
export async function meteredNatsSearch(o: MeteredSearchOptions): Promise<MeterLog & { wallMs: number; retries: number }> {
  const bus: Bus = o.url === "inproc"
    ? new InProcessBus()
    : await connectNatsBus(o.url, { name: "rstar-bench-messaging", log: () => {}, maxReconnectAttempts: 0 });
  const run = `bench-msg-${Deno.pid}-${Date.now()}`;
  const knobs = PRESET_CONFIGS.smoke.search.bootstrap;
  const system = startSystem({
    bus,
    blobs: new InMemoryBlobStore(),
    run,
    roles: ["expander", "scorer"],
    policy: new BootstrapPolicy(),
    scorer: undefined,
    executor: new SafeExecutor(),
    log: silentLogger,
    grade: answersEqual,
    heartbeatMs: 0,
  });
  const meter = collectingMeter();
  const search = createSearchService({ bus, run, log: silentLogger, meter });
  try {
    await bus.flush();
    const t0 = performance.now();
    await search.run({
      round: 1,
      mode: "train",
      problems: smokeProblems(o.problems, o.seed ?? 1),
      config: { rollouts: knobs.rollouts, k: knobs.k, c: knobs.c, maxDepth: knobs.maxDepth },
      usePpm: false,
      seed: o.seed ?? 1,
      concurrency: PRESET_CONFIGS.smoke.search.concurrency,
    }, () => {
      if (o.signal?.aborted) throw new Error("Cannot finish the messaging search: the bench deadline passed");
      return Promise.resolve();
    });
    return { ...meter.log, wallMs: performance.now() - t0, retries: search.stats().retries };
  } finally {
    await system.stop();
    await bus.close();
  }
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * `rollout.messaging_share.nats`: after a discarded warm-up search, `reps` metered smoke searches
 * of 10 problems (seeds 1..reps) over NATS, each followed by the same search over the in-process
 * bus; the figure is the median NATS share. The in-process shares in `detail` are the part that
 * does not depend on the transport (encoding, decoding, waiting for the event loop).
 */
export async function benchMessaging(opts: { quick: boolean; signal?: AbortSignal }): Promise<BenchFigure> {
  const url = Deno.env.get("RSTAR_NATS_URL") ?? "nats://127.0.0.1:4222";
  const problems = PRESET_CONFIGS.smoke.train.problemsPerRound;
  const reps = opts.quick ? 3 : 7;
  const signal = opts.signal ? { signal: opts.signal } : {};
  await meteredNatsSearch({ url, problems: 4, seed: 1000, ...signal });
  const nats: (MessagingBreakdown & { searchWallMs: number; retries: number })[] = [];
  const inproc: MessagingBreakdown[] = [];
  for (let rep = 1; rep <= reps && !opts.signal?.aborted; rep++) {
    const log = await meteredNatsSearch({ url, problems, seed: rep, ...signal });
    nats.push({ ...messagingBreakdown(log), searchWallMs: log.wallMs, retries: log.retries });
    inproc.push(messagingBreakdown(await meteredNatsSearch({ url: "inproc", problems, seed: rep, ...signal })));
  }
  const share = median(nats.map((b) => b.share));
  const typical = nats.find((b) => b.share === share) ?? nats[0];
  return {
    name: "rollout.messaging_share.nats",
    value: share,
    unit: "ratio",
    detail: {
      policy: "bootstrap",
      preset: "smoke",
      problems,
      shares: nats.map((b) => b.share),
      inprocShares: inproc.map((b) => b.share),
      inprocShare: median(inproc.map((b) => b.share)),
      median: typical,
    },
  };
}
