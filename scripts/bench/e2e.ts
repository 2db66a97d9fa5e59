/**
 * End-to-end figures:
 * - `rollout.messaging_share.nats` (quick and full): the share of a rollout's wall time spent in
 *   messaging, from a metered smoke search over NATS (`scripts/bench/messaging.ts`, which defines
 *   it). The full bench adds a cross-check in `detail.ab`: the same smoke round run by
 *   `rstar evolve` with the in-process bus and over NATS, (search_nats − search_inproc) ÷
 *   search_nats from the medians.
 * - `round.wall_s.smoke` (full bench only): wall seconds of one smoke round of `rstar evolve`, run
 *   as a child process exactly as a user runs it, split into search, training and evaluation
 *   (`detail`).
 * - `round.bootstrap_search_per_s` and `.lanes2` (quick and full): problems a second of a
 *   bootstrap round's training search through the actors in one process, in one lane and in two
 *   (the quick preset's `generateThreads: 2`, scripts/run/searchLanes.ts).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchFigure, type BenchOptions, errorFigure } from "./index.ts";
import { generateProblems } from "../../math/generator.ts";
import { clearInterpreterCaches } from "../../math/interpreter.ts";
import { resolveConfig } from "../run/config.ts";
import { createLocalServices } from "../run/localServices.ts";
import { silentProgress } from "../run/progress.ts";
import { benchMessaging } from "./messaging.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Wall milliseconds of one round, as `summary.json` reports them. */
export interface RoundWall {
  readonly search: number;
  readonly train: number;
  readonly eval: number;
  readonly total: number;
}

/** A failed child run: the command and the last line it wrote to stderr. */
export class SmokeRunFailed extends Error {
  readonly _tag = "SmokeRunFailed";
  constructor(readonly args: readonly string[], readonly reason: string) {
    super(`Cannot run rstar ${args.join(" ")}: ${reason}`);
    this.name = "SmokeRunFailed";
  }
}

/** Runs one smoke round of `rstar evolve` in a fresh run directory and reads its wall times. */
export async function smokeRound(seed: number, nats: string | undefined, signal?: AbortSignal): Promise<RoundWall> {
  const runDir = await Deno.makeTempDir({ prefix: "rstar-bench-" });
  const args = ["evolve", "--preset", "smoke", "--rounds", "1", "--seed", String(seed), "--run", runDir];
  if (nats !== undefined) args.push("--nats", nats);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", join(root, "scripts", "rstar.ts"), ...args],
      cwd: root,
      stdout: "null",
      stderr: "piped",
      ...(signal ? { signal } : {}),
    }).output();
    if (!out.success) {
      const lines = new TextDecoder().decode(out.stderr).trim().split("\n");
      throw new SmokeRunFailed(args, `exit ${out.code}: ${lines[lines.length - 1] ?? ""}`);
    }
    const summary = JSON.parse(await Deno.readTextFile(join(runDir, "summary.json"))) as {
      rounds?: { wallMs?: Partial<RoundWall> }[];
    };
    const w = summary.rounds?.[0]?.wallMs;
    if (w === undefined || typeof w.total !== "number") {
      throw new SmokeRunFailed(args, "summary.json has no rounds[0].wallMs");
    }
    return { search: w.search ?? 0, train: w.train ?? 0, eval: w.eval ?? 0, total: w.total };
  } finally {
    await Deno.remove(runDir, { recursive: true }).catch(() => undefined);
  }
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Messaging share from paired search times: (nats − inproc) ÷ nats, clamped to [0, 1]. */
export function messagingShare(inprocSearchMs: number, natsSearchMs: number): number {
  if (!(natsSearchMs > 0)) return Number.NaN;
  return Math.min(1, Math.max(0, (natsSearchMs - inprocSearchMs) / natsSearchMs));
}

/** The e2e area: `rollout.messaging_share.nats`, and in the full bench `round.wall_s.smoke`. */
export async function benchE2e(opts: BenchOptions): Promise<BenchFigure[]> {
  const nats = Deno.env.get("RSTAR_NATS_URL") ?? "nats://127.0.0.1:4222";
  const figures: BenchFigure[] = [];
  // A measurement that fails becomes an error figure; the others are still taken.
  const failed = (err: unknown) => errorFigure({ id: "e2e" }, err instanceof Error ? err.message : String(err));
  let messaging: BenchFigure | undefined;
  try {
    messaging = await benchMessaging(opts);
  } catch (err) {
    figures.push(failed(err));
  }
  try {
    figures.push(...await bootstrapSearchRate(opts.quick ? 60 : 200));
  } catch (err) {
    figures.push(failed(err));
  }
  if (opts.quick) return messaging === undefined ? figures : [messaging, ...figures];
  const inproc: RoundWall[] = [];
  const overNats: RoundWall[] = [];
  let natsError: string | undefined;
  for (let rep = 0; rep < 2; rep++) {
    inproc.push(await smokeRound(1, undefined, opts.signal));
    if (natsError === undefined) {
      try {
        overNats.push(await smokeRound(1, nats, opts.signal));
      } catch (err) {
        natsError = err instanceof Error ? err.message : String(err);
      }
    }
  }
  if (messaging !== undefined) {
    const ab = natsError !== undefined ? { error: natsError } : {
      share: messagingShare(median(inproc.map((w) => w.search)), median(overNats.map((w) => w.search))),
      inproc_search_ms: inproc.map((w) => w.search),
      nats_search_ms: overNats.map((w) => w.search),
    };
    figures.unshift({ ...messaging, detail: { ...(messaging.detail as object), ab } });
  }
  const walls = inproc.map((w) => w.total / 1000);
  figures.push({
    name: "round.wall_s.smoke",
    value: median(walls),
    unit: "s",
    detail: {
      runs: inproc.length,
      search_s: median(inproc.map((w) => w.search / 1000)),
      train_s: median(inproc.map((w) => w.train / 1000)),
      eval_s: median(inproc.map((w) => w.eval / 1000)),
      total_s: walls,
    },
  });
  return figures;
}

/**
 * Problems a second of a bootstrap round's search (the quick preset's knobs and grading, `perLevel`
 * generated problems of each level 1–5) in one lane and in two.
 */
export async function bootstrapSearchRate(perLevel: number): Promise<BenchFigure[]> {
  const problems = [1, 2, 3, 4, 5].flatMap((level) =>
    generateProblems({ count: perLevel, seed: 31, level, split: "train" }).map((p) => ({ ...p, id: `L${level}-${p.id}` }))
  );
  const rate = async (lanes: number) => {
    // Each run starts with empty step caches, as a worker lane's thread does.
    clearInterpreterCaches();
    const config = { ...resolveConfig("quick"), generateThreads: lanes };
    const services = createLocalServices();
    try {
      await services.start(config);
      let done = 0;
      const t0 = performance.now();
      await services.search({
        round: 1,
        phase: "train",
        problems,
        knobs: config.search.bootstrap,
        policy: { kind: "bootstrap" },
        seed: 1,
        sftPerProblem: config.sft.perProblem,
        pairs: { margin: config.ppm.margin, perSide: config.ppm.perSide },
        concurrency: config.search.concurrency,
      }, () => {
        done++;
        return Promise.resolve();
      }, { progress: silentProgress });
      return done / ((performance.now() - t0) / 1000);
    } finally {
      await services.close();
    }
  };
  await rate(1); // warm-up: JIT compilation
  const one = await rate(1);
  const two = await rate(2);
  return [
    { name: "round.bootstrap_search_per_s", value: one, unit: "problems/s", detail: { lanes: 1, problems: problems.length } },
    { name: "round.bootstrap_search_per_s.lanes2", value: two, unit: "problems/s", detail: { lanes: 2, problems: problems.length } },
  ];
}
