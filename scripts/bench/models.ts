/**
 * Model benchmarks: the backend's matmul peak, policy training throughput and model FLOP
 * utilisation (MFU), batched generation throughput at batch 1/16/64, and PPM scoring rate.
 *
 * Workload: synthetic word problems shaped like the generator's (a ~40-token problem, 3–4 steps,
 * ~130-token sequences) on the `quick` preset. FLOPs are counted as 6 × params × real tokens plus
 * attention (models/transformer.ts `trainFlops`); padding is not counted as useful work.
 */
import * as tf from "@tensorflow/tfjs";
import type { Problem, Step } from "../../math/contracts.ts";
import { renderStep } from "../../math/contracts.ts";
import { generateProblems } from "../../math/generator.ts";
import { answersEqual } from "../../math/grade.ts";
import { runCode } from "../../math/interpreter.ts";
import { Prng } from "../../math/prng.ts";
import { initBackend } from "../../models/backend.ts";
import { loadPolicy, loadScorer } from "../../models/checkpoint.ts";
import { ThreadedPolicy } from "../../models/parallelPropose.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { TinyScorer } from "../../models/ppm.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import { countParams, PRESETS, trainFlops } from "../../models/transformer.ts";
import { greedySolve } from "../../models/rollout.ts";
import { type PairExample, trainPolicy, trainScorer } from "../../models/train.ts";
import type { BenchFigure, BenchOptions } from "./index.ts";
import { accuracyByLevel, chooserAccuracy, sampleScored } from "./choosers.ts";
import { join } from "node:path";
import type { EvolveConfig } from "../run/config.ts";
import { openRunDirectory, pathExists } from "../run/runDirectory.ts";
import { trainStateFile } from "../run/trainStateFile.ts";

const NAMES = ["Ava", "Ben", "Cleo", "Dan", "Eli", "Fay"];
const ITEMS = ["apples", "pencils", "stickers", "marbles", "books", "coins"];

/** A synthetic multi-step word problem with its reference steps (bench workload only). */
export function syntheticExample(rng: Prng): { problem: string; steps: Step[] } {
  const who = rng.pick(NAMES);
  const what = rng.pick(ITEMS);
  const a = rng.range(2, 300);
  const b = rng.range(2, 99);
  const c = rng.range(2, 9);
  const problem = `${who} has ${a} ${what}. ${who} buys ${b} more ${what} and then gives away ` +
    `a group of ${c} ${what} to each of ${c} friends. How many ${what} does ${who} have left?`;
  const steps: Step[] = [
    { text: `${what} at the start`, code: `start = ${a}` },
    { text: `${what} after buying`, code: `after = start + ${b}` },
    { text: `${what} given away`, code: `given = ${c} * ${c}` },
    { text: "what is left", code: "left = after - given\nprint(left)" },
  ];
  return { problem, steps };
}

function time(f: () => void): number {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
}

/**
 * Median milliseconds to save a training run's state (weights and Adam's moments, encoded and
 * written with an fsync, as `rstar evolve` does; scripts/run/trainStateFile.ts), saving after
 * every step of a short run.
 */
async function trainStateSaveMs(policy: TinyPolicy, examples: readonly { problem: string; steps: Step[] }[]): Promise<BenchFigure> {
  const dir = Deno.makeTempDirSync();
  const path = join(dir, "policy-training.safetensors");
  const file = trainStateFile(path, 0, "bench", () => {});
  const ms: number[] = [];
  try {
    await trainPolicy(policy, examples, {
      epochs: 1,
      batchSize: 32,
      lr: 1e-3,
      seed: 3,
      checkpoints: {
        ...file,
        async save(state) {
          const t0 = performance.now();
          await file.save(state);
          ms.push(performance.now() - t0);
        },
      },
    });
    const bytes = Deno.statSync(path).size;
    ms.sort((a, b) => a - b);
    return { name: "policy.train_state_save_ms", value: ms[ms.length >> 1]!, unit: "ms", detail: { bytes, saves: ms.length, maxMs: ms[ms.length - 1]! } };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Peak GFLOP/s of the backend on a large square matmul. */
export function matmulGflops(n: number, reps: number): number {
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
  const run = () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  run();
  let best = Infinity;
  for (let i = 0; i < reps; i++) best = Math.min(best, time(run));
  tf.dispose([a, b]);
  return (2 * n * n * n) / best / 1e9;
}

/** Runs the model benchmarks. */
export async function benchModels(opts: BenchOptions): Promise<BenchFigure[]> {
  const backend = await initBackend();
  const figures: BenchFigure[] = [];
  const peak = matmulGflops(1024, opts.quick ? 3 : 6);
  figures.push({ name: "backend.matmul_gflops", value: peak, unit: "GFLOP/s", detail: { backend, n: 1024 } });

  const rng = Prng.fromSeed(7);
  const examples = Array.from({ length: opts.quick ? 256 : 1024 }, () => syntheticExample(rng));
  const tok = Tokenizer.build(examples.flatMap((e) => [e.problem, ...e.steps.map(renderStep)]));
  const config = PRESETS.quick;
  const policy = TinyPolicy.create(config, tok, 1);
  try {
    const nParams = countParams(policy.params) - config.maxLen * config.dModel;
    // Warm-up (kernel compilation, allocator), then the measured run.
    await trainPolicy(policy, examples.slice(0, 64), { epochs: 1, batchSize: 32, lr: 1e-3, seed: 1 });
    let flops = 0;
    const lens = examples.map((e) => tok.encodeExample(e.problem, e.steps).ids.length);
    const meanLen = lens.reduce((a, b) => a + b, 0) / lens.length;
    const res = await trainPolicy(policy, examples, { epochs: 1, batchSize: 32, lr: 1e-3, seed: 2 });
    flops = trainFlops(config, nParams, res.tokens, meanLen);
    const tokS = res.tokens / res.seconds;
    figures.push({ name: "policy.train_tok_s", value: tokS, unit: "tok/s", detail: { preset: "quick", params: nParams, meanLen } });
    figures.push({ name: "policy.train_mfu", value: flops / res.seconds / 1e9 / peak, unit: "ratio", detail: { gflops: flops / res.seconds / 1e9 } });
    figures.push(await trainStateSaveMs(policy, examples.slice(0, opts.quick ? 128 : 256)));

    for (const b of [1, 16, 64]) {
      const reqs = examples.slice(0, b).map((e, i) => ({
        problem: e.problem,
        steps: e.steps.slice(0, 1),
        k: 1,
        temperature: 1,
        topP: 1,
        seed: i,
      }));
      policy.proposeSync(reqs.slice(0, 1));
      let tokens = 0;
      const reps = opts.quick ? (b === 1 ? 3 : 1) : (b === 1 ? 6 : 2);
      const secs = time(() => {
        for (let r = 0; r < reps; r++) {
          for (const cands of policy.proposeSync(reqs)) for (const c of cands) tokens += c.tokens;
        }
      });
      figures.push({ name: `policy.gen_tok_s.b${b}`, value: tokens / secs, unit: "tok/s" });
    }
    // The same batch of 64 shared between this thread and a worker thread (generateThreads: 2).
    const threaded = await ThreadedPolicy.start(policy, { threads: 2 });
    try {
      const reqs = examples.slice(0, 64).map((e, i) => ({ problem: e.problem, steps: e.steps.slice(0, 1), k: 1, temperature: 1, topP: 1, seed: i }));
      // Two warm-up calls: the worker's own JavaScript (sampling, decoding) starts cold.
      for (let w = 0; w < 2; w++) await threaded.propose(reqs);
      let tokens = 0;
      const reps = opts.quick ? 2 : 4;
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) for (const cands of await threaded.propose(reqs)) for (const c of cands) tokens += c.tokens;
      const secs = (performance.now() - t0) / 1000;
      figures.push({ name: "policy.gen_tok_s.b64.threads2", value: tokens / secs, unit: "tok/s", detail: { threads: threaded.threads } });
    } finally {
      threaded.closeWorkers();
    }

    const scorer = TinyScorer.fromPolicy(policy, "ppm");
    try {
      const items = examples.slice(0, 64).map((e) => ({ problem: e.problem, steps: e.steps.slice(0, 2), candidate: e.steps[2]! }));
      scorer.scoreSync(items);
      const reps = opts.quick ? 2 : 5;
      const secs = time(() => {
        for (let r = 0; r < reps; r++) scorer.scoreSync(items);
      });
      figures.push({ name: "ppm.score_per_s.b64", value: (64 * reps) / secs, unit: "items/s" });
    } finally {
      scorer.dispose();
    }
  } finally {
    policy.dispose();
  }
  return figures;
}

/** A wrong version of a step: one operator swapped or one number changed (synthetic negatives). */
export function corruptStep(step: Step, rng: Prng): Step {
  const ops = [...step.code.matchAll(/ ([-+*]|\/\/|%) /g)];
  if (ops.length > 0 && rng.float() < 0.5) {
    const m = rng.pick(ops);
    const swap: Record<string, string> = { "+": "-", "-": "+", "*": "+", "//": "*", "%": "*" };
    const at = m.index! + 1;
    return { text: step.text, code: step.code.slice(0, at) + swap[m[1]!]! + step.code.slice(at + m[1]!.length) };
  }
  const nums = [...step.code.matchAll(/\d+/g)];
  if (nums.length === 0) return { text: step.text, code: step.code.replace("print(", "print(2 * ") };
  const m = rng.pick(nums);
  const bumped = String(Number(m[0]) + rng.range(1, 9));
  return { text: step.text, code: step.code.slice(0, m.index!) + bumped + step.code.slice(m.index! + m[0].length) };
}

/** The last line a program prints, or undefined when it fails or prints nothing. */
function finalAnswer(steps: readonly Step[]): string | undefined {
  const out = runCode(steps.map((s) => s.code).join("\n"));
  return out.ok ? out.stdout.trimEnd().split("\n").at(-1)?.trim() : undefined;
}

/**
 * Synthetic preference pairs: at a random prefix of the reference solution, the reference step
 * beats a corrupted one. A corruption that is not wrong (the reference's remaining steps after
 * it still print the reference's answer, e.g. `2 * 2` → `2 + 2`, or a bumped number that leaves
 * a floor division or gcd unchanged) would be a mislabelled pair, so it is dropped.
 */
export function syntheticPairs(problems: readonly Problem[], seed: number): PairExample[] {
  const rng = Prng.fromSeed(seed);
  return problems.flatMap((p) => {
    const sol = p.solution ?? [];
    const i = rng.int(Math.max(1, sol.length));
    const chosen = sol[i] ?? { text: "answer", code: `print(${p.answer})` };
    const rejected = corruptStep(chosen, rng);
    if (chosen.code === rejected.code) return [];
    const steps = sol.slice(0, i);
    const rest = sol.slice(i + 1);
    const reference = finalAnswer([...steps, chosen, ...rest]);
    if (reference !== undefined && finalAnswer([...steps, rejected, ...rest]) === reference) return [];
    return [{ problem: p.problem, steps, chosen, rejected }];
  });
}

/**
 * Done-when check 1: SFT on the generator's level-1–2 reference solutions (a test-only
 * shortcut), then greedy accuracy on held-out level-1–2 problems.
 */
export async function sftAccuracyCheck(opts: { train: number; test: number; epochs: number; lr: number; batchSize: number; preset: keyof typeof PRESETS }): Promise<BenchFigure[]> {
  await initBackend();
  const tok = Tokenizer.forDomain();
  const half = (n: number, split: "train" | "test", seed: number) => [
    ...generateProblems({ count: Math.ceil(n / 2), seed, level: 1, split }),
    ...generateProblems({ count: Math.floor(n / 2), seed, level: 2, split }),
  ];
  const train = half(opts.train, "train", 1);
  const test = half(opts.test, "test", 2);
  const policy = TinyPolicy.create(PRESETS[opts.preset], tok, 1);
  try {
    const res = await trainPolicy(policy, train.map((p) => ({ problem: p.problem, steps: p.solution! })), {
      epochs: opts.epochs, batchSize: opts.batchSize, lr: opts.lr, seed: 1,
    });
    const out = await greedySolve(policy, test.map((p) => p.problem));
    const right = out.map((o, i) => o.answer === test[i]!.answer);
    const acc = right.filter(Boolean).length / test.length;
    const byLevel = Object.fromEntries([1, 2].map((l) => {
      const at = test.flatMap((p, i) => (p.level === l ? [right[i]!] : []));
      return [`l${l}`, at.filter(Boolean).length / at.length];
    }));
    return [
      { name: "policy.sft_acc.l12", value: acc, unit: "ratio", detail: { ...opts, byLevel, finalLoss: res.losses.at(-1) } },
      { name: "policy.sft_train_s", value: res.seconds, unit: "s", detail: { tokens: res.tokens, steps: res.steps } },
    ];
  } finally {
    policy.dispose();
  }
}

/** Greedy accuracy of `policy` on `test`, overall and per level 1–5 (`l1` … `l5`). */
async function greedyAccuracy(
  policy: TinyPolicy,
  test: readonly Problem[],
): Promise<{ accuracy: number; byLevel: Record<string, number> }> {
  const out = await greedySolve(policy, test.map((p) => p.problem));
  return accuracyByLevel(test, out.map((o, i) => o.answer !== undefined && answersEqual(o.answer, test[i]!.answer)));
}

/**
 * Length transfer: the `quick` policy trained for `seconds` on one thread on reference solutions
 * of levels 1–3 only, then greedy accuracy on held-out problems of every level (levels 4–5 are
 * longer than anything it trained on). Compares position schemes and head counts at equal time.
 */
export async function lengthTransferCheck(opts: {
  positions: "learned" | "alibi";
  heads: number;
  seconds: number;
  train: number;
  perLevel: number;
}): Promise<BenchFigure[]> {
  await initBackend();
  const tok = Tokenizer.forDomain();
  const train = [1, 2, 3].flatMap((level) => generateProblems({ count: Math.floor(opts.train / 3), seed: 11, level }));
  const test = [1, 2, 3, 4, 5].flatMap((level) => generateProblems({ count: opts.perLevel, seed: 99, level, split: "test" }));
  const config = { ...PRESETS.quick, nHeads: opts.heads, positions: opts.positions };
  const policy = TinyPolicy.create(config, tok, 1);
  try {
    const res = await trainPolicy(policy, train.map((p) => ({ problem: p.problem, steps: p.solution! })), {
      epochs: 1000, batchSize: 16, lr: 2e-3, seed: 1, maxSeconds: opts.seconds, workers: 1,
    });
    const { accuracy, byLevel } = await greedyAccuracy(policy, test);
    return [{
      name: "policy.length_transfer",
      value: accuracy,
      unit: "ratio",
      detail: { ...opts, byLevel, steps: res.steps, finalLoss: res.losses.at(-1) },
    }];
  } finally {
    policy.dispose();
  }
}

/**
 * Greedy accuracy of a run's round-K policy on `perLevel` held-out problems of each level 1–5 (a
 * generator seed other than the run's test split), for a lower-noise learning curve than the
 * run's own 20 problems per level.
 */
export async function runGreedyCheck(opts: { run: string; round: number; perLevel: number }): Promise<BenchFigure[]> {
  await initBackend();
  const policy = await loadPolicy(`${opts.run}/checkpoints/round-${opts.round}/policy`);
  try {
    const { accuracy, byLevel } = await greedyAccuracy(policy, heldOut(opts.perLevel));
    return [{
      name: "policy.greedy_acc",
      value: accuracy,
      unit: "ratio",
      detail: { ...opts, version: policy.version, byLevel },
    }];
  } finally {
    policy.dispose();
  }
}

/** One of `runCeilingCheck`'s training sets. */
type CeilingSet = "picks" | "ref_solved" | "ref_all";

/**
 * What a run's policy is short of, data or model: the run's model shape with its round-1 training
 * settings (epochs, batch, learning rate, threads, its step limit, or at most `seconds`) is
 * trained from scratch on three data sets built from round 1's problems, then decodes PER_LEVEL
 * held-out problems of each level greedily (those of `greedy`):
 * - `picks`: the SFT picks round 1's search kept (`RUN/round-1/sft.jsonl`);
 * - `ref_solved`: each pick replaced by its problem's reference solution (same problems, same
 *   count; the generator's steps instead of the bootstrap's);
 * - `ref_all`: the reference solution of every problem round 1 searched, solved or not
 *   (`sft.perProblem` copies each).
 * `picks` → `ref_solved` is what the steps' style costs, `ref_solved` → `ref_all` what the problems
 * the search left unsolved cost; `ref_all` is the most round 1's problems can teach this model in
 * this time. Needs problems with reference solutions (generated ones, or a dataset with them).
 */
export async function runCeilingCheck(opts: { run: string; seconds?: number; perLevel: number }): Promise<BenchFigure[]> {
  const dir = openRunDirectory<EvolveConfig>(opts.run);
  if (dir._tag !== "RunDirectory") throw new RangeError(dir.message);
  const c = dir.file.config;
  const sftFile = join(dir.paths.roundDir(1), "sft.jsonl");
  if (!pathExists(sftFile)) throw new RangeError(`${sftFile} is missing: run round 1 of ${opts.run} first`);
  const picks = Deno.readTextFileSync(sftFile).split("\n").filter((l) => l.trim() !== "").map((l) => {
    const row = JSON.parse(l) as { problem_id: string; problem: string; steps: Step[] };
    return { id: row.problem_id, problem: row.problem, steps: row.steps };
  });
  // The run's own problem source (generator or dataset); loaded here only, it brings the actor system along.
  const { createLocalServices } = await import("../run/localServices.ts");
  const problems = await createLocalServices().trainProblems(c, 1);
  const refOf = new Map(problems.flatMap((p) => (p.solution !== undefined && p.solution.length > 0 ? [[p.id, p.solution] as const] : [])));
  const missing = picks.find((x) => !refOf.has(x.id));
  if (missing !== undefined || refOf.size < problems.length) {
    throw new RangeError(`round 1's problems of ${opts.run} have no reference solutions (problem ${missing?.id ?? "?"}); the check needs generated problems or a dataset with solutions`);
  }
  const sets: Record<CeilingSet, { problem: string; steps: readonly Step[] }[]> = {
    picks,
    ref_solved: picks.map((x) => ({ problem: x.problem, steps: refOf.get(x.id)! })),
    ref_all: problems.flatMap((p) => Array.from({ length: c.sft.perProblem }, () => ({ problem: p.problem, steps: p.solution! }))),
  };
  await initBackend();
  const test = heldOut(opts.perLevel);
  const tok = Tokenizer.build([
    ...problems.map((p) => p.problem),
    ...test.map((p) => p.problem),
    ...Object.values(sets).flatMap((set) => set.flatMap((e) => e.steps.map(renderStep))),
  ]);
  const out: BenchFigure[] = [];
  for (const name of ["picks", "ref_solved", "ref_all"] as const) {
    const policy = TinyPolicy.create({ ...PRESETS[c.model.size], positions: c.model.positions ?? "learned" }, tok, c.seed);
    try {
      const res = await trainPolicy(policy, sets[name], {
        epochs: c.sft.firstRoundEpochs ?? c.sft.epochs,
        batchSize: c.sft.batchSize,
        lr: c.sft.lr,
        seed: c.seed,
        workers: c.trainWorkers ?? 1,
        // The run's own bound: SECONDS when given, else its step or time limit (240 s without either).
        ...(opts.seconds === undefined && c.sft.maxSteps !== undefined
          ? { maxSteps: c.sft.maxSteps }
          : { maxSeconds: opts.seconds ?? c.sft.maxSeconds ?? 240 }),
      });
      const { accuracy, byLevel } = await greedyAccuracy(policy, test);
      out.push({
        name: `policy.data_ceiling.${name}`,
        value: accuracy,
        unit: "ratio",
        detail: { run: opts.run, examples: sets[name].length, byLevel, steps: res.steps, seconds: res.seconds, finalLoss: res.losses.at(-1) },
      });
    } finally {
      policy.dispose();
    }
  }
  return out;
}

/**
 * Best-of-N choosers on the same samples (`choosers.ts`): the run's round-`round` policy samples
 * `n` solutions (default: the run's `eval.samples`) at the run's evaluation temperature for PER_LEVEL held-out problems of each level
 * (those of `greedy`), its round-`round` PPM scores every step, and every chooser answers. One
 * figure per chooser, `ppm.bon_choose.NAME`, plus `ppm.bon_choose.ceiling` (any sample right).
 */
export async function runChoosersCheck(opts: { run: string; round: number; perLevel: number; n?: number }): Promise<BenchFigure[]> {
  const dir = openRunDirectory<EvolveConfig>(opts.run);
  if (dir._tag !== "RunDirectory") throw new RangeError(dir.message);
  const n = opts.n ?? dir.file.config.eval.samples;
  const models = `${opts.run}/checkpoints/round-${opts.round}`;
  for (const m of ["policy", "ppm"]) {
    if (!pathExists(`${models}/${m}`)) throw new RangeError(`${models}/${m} is missing: round ${opts.round} of ${opts.run} has not trained`);
  }
  await initBackend();
  const policy = await loadPolicy(`${models}/policy`);
  const ppm = await loadScorer(`${models}/ppm`);
  try {
    const test = heldOut(opts.perLevel);
    const temperature = dir.file.config.eval.temperature;
    const samples = sampleScored(policy, ppm, test, { n, temperature, seed: dir.file.config.seed });
    const answered = samples.reduce((a, ss) => a + ss.length, 0) / test.length;
    return Object.entries(chooserAccuracy(test, samples)).map(([name, r]) => ({
      name: `ppm.bon_choose.${name}`,
      value: r.accuracy,
      unit: "ratio",
      detail: { ...opts, n, temperature, answeredPerProblem: answered, versions: [policy.version, ppm.version], byLevel: r.byLevel },
    }));
  } finally {
    policy.dispose();
    ppm.dispose();
  }
}

/** The held-out problems of `greedy` and `ceiling`: PER_LEVEL test-split problems of each level, generator seed 2027. */
function heldOut(perLevel: number): Problem[] {
  return [1, 2, 3, 4, 5].flatMap((level) => generateProblems({ count: perLevel, seed: 2027, level, split: "test" }));
}

/**
 * Done-when check 2: a PPM trained on synthetic pairs (one per problem, all levels), ranking
 * held-out pairs from the test split.
 */
export async function ppmRankingCheck(opts: { train: number; test: number; epochs: number; preset: keyof typeof PRESETS }): Promise<BenchFigure[]> {
  await initBackend();
  const tok = Tokenizer.forDomain();
  const train = syntheticPairs(generateProblems({ count: opts.train, seed: 1 }), 1);
  const test = syntheticPairs(generateProblems({ count: opts.test, seed: 2, split: "test" }), 2);
  const ppm = TinyScorer.create("ppm", PRESETS[opts.preset], tok, 1);
  try {
    const res = await trainScorer(ppm, train, { epochs: opts.epochs, batchSize: 16, lr: 3e-3, seed: 1 });
    const a = ppm.scoreSync(test.map((e) => ({ problem: e.problem, steps: e.steps, candidate: e.chosen })));
    const b = ppm.scoreSync(test.map((e) => ({ problem: e.problem, steps: e.steps, candidate: e.rejected })));
    // A tie counts as a wrong ranking.
    const acc = a.filter((x, i) => x > b[i]!).length / test.length;
    const ties = a.filter((x, i) => x === b[i]!).length;
    return [{
      name: "ppm.pair_acc",
      value: acc,
      unit: "ratio",
      detail: { ...opts, trainPairs: train.length, testPairs: test.length, ties, seconds: res.seconds, finalLoss: res.losses.at(-1) },
    }];
  } finally {
    ppm.dispose();
  }
}

if (import.meta.main) {
  // `deno run -A scripts/bench/models.ts [bench|sft|ppm|length|greedy|ceiling|choosers]`: the figures as JSON lines.
  // `length [learned|alibi] [HEADS] [SECONDS]` (default alibi 8 200);
  // `greedy RUN_DIR ROUND [PER_LEVEL]` (default 100 per level);
  // `ceiling RUN_DIR [SECONDS] [PER_LEVEL]` (default: the run's sft.maxSteps or maxSeconds, 100 per level);
  // `choosers RUN_DIR ROUND [PER_LEVEL] [N]` (default 60 per level, the run's eval.samples).
  const what = Deno.args[0] ?? "bench";
  // A positional number: its default when absent; anything but a positive number exits 2.
  const positive = (i: number, name: string, fallback: number): number => {
    const raw = Deno.args[i];
    const v = raw === undefined ? fallback : Number(raw);
    if (!(v > 0) || !Number.isFinite(v)) {
      console.error(`scripts/bench/models.ts ${what}: ${name} must be a positive number, got ${JSON.stringify(raw)}`);
      Deno.exit(2);
    }
    return v;
  };
  if ((what === "greedy" || what === "ceiling" || what === "choosers") && Deno.args[1] === undefined) {
    const rest = { greedy: "ROUND [PER_LEVEL]", ceiling: "[SECONDS] [PER_LEVEL]", choosers: "ROUND [PER_LEVEL] [N]" }[what];
    console.error(`scripts/bench/models.ts ${what}: expected RUN_DIR ${rest}`);
    Deno.exit(2);
  }
  if (what === "length" && Deno.args[1] !== undefined && Deno.args[1] !== "learned" && Deno.args[1] !== "alibi") {
    console.error(`scripts/bench/models.ts length: positions must be learned or alibi, got ${JSON.stringify(Deno.args[1])}`);
    Deno.exit(2);
  }
  // A run the check cannot use (RangeError) exits 2 with the reason; anything else is a bug.
  const refused = (err: unknown): never => {
    if (!(err instanceof RangeError)) throw err;
    console.error(`scripts/bench/models.ts ${what}: ${err.message}`);
    Deno.exit(2);
  };
  const figs = what === "sft"
    ? await sftAccuracyCheck({ train: 16000, test: 400, epochs: 2, lr: 3e-3, batchSize: 16, preset: "quick" })
    : what === "greedy"
    ? await runGreedyCheck({ run: Deno.args[1]!, round: positive(2, "ROUND", 1), perLevel: positive(3, "PER_LEVEL", 100) })
    : what === "ceiling"
    ? await runCeilingCheck({
      run: Deno.args[1]!,
      ...(Deno.args[2] !== undefined ? { seconds: positive(2, "SECONDS", 240) } : {}),
      perLevel: positive(3, "PER_LEVEL", 100),
    }).catch(refused)
    : what === "choosers"
    ? await runChoosersCheck({
      run: Deno.args[1]!,
      round: positive(2, "ROUND", 1),
      perLevel: positive(3, "PER_LEVEL", 60),
      ...(Deno.args[4] !== undefined ? { n: positive(4, "N", 24) } : {}),
    }).catch(refused)
    : what === "length"
    ? await lengthTransferCheck({
      positions: Deno.args[1] === "learned" ? "learned" : "alibi",
      heads: positive(2, "HEADS", 8),
      seconds: positive(3, "SECONDS", 200),
      train: 4000,
      perLevel: 40,
    })
    : what === "ppm"
    ? await ppmRankingCheck({ train: 2000, test: 300, epochs: 3, preset: "quick" })
    : await benchModels({ quick: Deno.args.includes("--quick") });
  for (const f of figs) console.log(JSON.stringify(f));
}
