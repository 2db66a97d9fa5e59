/**
 * The evolve job's configuration: plain data, three presets (`smoke`, `quick`, `full`), and
 * overrides from the command line. The resolved config is stored in the run's `config.json`.
 */

import { MAX_LEVEL, MIN_LEVEL } from "../../math/generator.ts";
import { MAX_K, MAX_ROLLOUTS } from "../../protocols/messages.ts";

/** Names of the presets. */
export const PRESETS = ["smoke", "quick", "full"] as const;
/** One preset name. */
export type PresetName = typeof PRESETS[number];

/** Evaluation strategies, all at the same sample budget. */
export const STRATEGIES = ["greedy", "bon-vote", "bon-ppm", "mcts"] as const;
/** One evaluation strategy. */
export type Strategy = typeof STRATEGIES[number];

/** Whether a strategy needs a PPM (a scorer) besides the policy. */
export function needsScorer(strategy: Strategy): boolean {
  return strategy === "bon-ppm" || strategy === "mcts";
}

/** Search knobs for one phase. */
export interface SearchKnobs {
  /** Rollouts per problem. */
  readonly rollouts: number;
  /** Candidates per expansion. */
  readonly k: number;
  /** UCT exploration constant. */
  readonly c: number;
  readonly maxDepth: number;
  readonly temperature: number;
  readonly topP: number;
}

/** The full, resolved configuration of a run. */
export interface EvolveConfig {
  readonly preset: PresetName;
  readonly seed: number;
  readonly rounds: number;
  readonly train: {
    /** Training problems searched per round (fresh problems each round, balanced by level). */
    readonly problemsPerRound: number;
    /** Round 1's count when different (bootstrap search is cheap, and round 1 seeds the policy). */
    readonly firstRoundProblems?: number;
    readonly levels: readonly number[];
    /**
     * A curriculum: the highest level searched in round K is entry K−1 (the last entry holds for
     * later rounds). Absent: every round searches all of `levels`. Generated problems only.
     */
    readonly maxLevelByRound?: readonly number[];
    /**
     * With a curriculum: this many problems of each level above round K's cap are searched too, a
     * small share beside the capped levels. A policy that only ever saw solutions of up to `cap`
     * steps ends every solution at step `cap`, so its own searches cannot reach a longer one; a few
     * hundred longer solutions teach it that solutions run as long as the problem (measured: round
     * 1's greedy accuracy at level 4 went from 0.01 to 0.24 with 300 problems each of levels 4–5
     * added to 6,000 of levels 1–3). Absent: 0.
     */
    readonly aboveCapProblems?: number;
    /** JSONL file of training problems instead of generated ones. */
    readonly dataset?: string;
    /**
     * How training search grades a terminal. "answer": its answer equals the reference (rStar-Math).
     * "variants": also, where the problem has a reference program (the generated problems do), the
     * trajectory's code gets the reference's answers on number-shifted variants of the problem
     * (math/reference.ts), so a right answer reached by a coincidence of the numbers counts as wrong.
     * Absent (run directories from before the setting): "answer".
     */
    readonly grade?: "answer" | "variants";
  };
  readonly test: {
    readonly problems: number;
    readonly levels: readonly number[];
    readonly dataset?: string;
  };
  readonly search: {
    /** Round-1 search with the bootstrap proposer. */
    readonly bootstrap: SearchKnobs;
    /** Later rounds, with the trained policy. */
    readonly policy: SearchKnobs;
    /** Unsolved problems are searched again with `rollouts × retryMultiplier`. */
    readonly retryMultiplier: number;
    /** First round whose search is PPM-augmented (PPM values seed new nodes). */
    readonly ppmFromRound: number;
    /** Problems searched concurrently. */
    readonly concurrency: number;
    /**
     * Deadline of one expand or score request, after which it is sent again (same id). Default
     * 30 s; while a chaos spec is in force, 300 ms plus twice its longest delay (docs/CHAOS.md).
     */
    readonly requestTimeoutMs?: number;
  };
  readonly sft: {
    /** Correct trajectories kept per problem (top by mean Q). */
    readonly perProblem: number;
    readonly epochs: number;
    /** Round 1's epochs when different (its policy learns from nothing; later rounds fine-tune). */
    readonly firstRoundEpochs?: number;
    readonly batchSize: number;
    readonly lr: number;
    /** "scratch": retrain from initial weights each round (as rStar); "previous": fine-tune. */
    readonly init: "scratch" | "previous";
    /** Train on the picks of every round so far (true) or this round's only (false). */
    readonly accumulate: boolean;
    /**
     * Stop training after this many seconds. The weights then depend on the machine's speed (and
     * on whatever else runs on it); prefer `maxSteps` where runs are compared.
     */
    readonly maxSeconds?: number;
    /**
     * Stop after this many optimiser steps per round; the learning-rate schedule spans them. The
     * same seed gives the same policy however fast the machine; only the wall time differs.
     */
    readonly maxSteps?: number;
  };
  readonly ppm: {
    readonly epochs: number;
    readonly batchSize: number;
    readonly lr: number;
    /** Minimum Q difference between a chosen and a rejected step. */
    readonly margin: number;
    readonly perSide: number;
    readonly accumulate: boolean;
    /** Most pairs trained on per round (widest Q margins first). */
    readonly maxPairs: number;
    /** As `sft.maxSeconds`. */
    readonly maxSeconds?: number;
    /** As `sft.maxSteps`. */
    readonly maxSteps?: number;
  };
  readonly eval: {
    readonly strategies: readonly Strategy[];
    /**
     * Policy step samples per problem for best-of-N and MCTS (greedy decodes one solution): no new
     * solution or rollout starts once they are spent, and the one in progress is finished.
     */
    readonly samples: number;
    readonly temperature: number;
    /** Candidates per expansion for MCTS at test time. */
    readonly k: number;
  };
  readonly model: {
    readonly policy: "tiny" | "openai";
    /** Size preset of the tiny models. */
    readonly size: PresetName;
    /**
     * How the tiny models see token order (models/transformer.ts): "alibi" (the presets; what is
     * learned on short problems holds on longer ones) or "learned" position embeddings.
     * Absent (run directories from before the setting): "learned".
     */
    readonly positions?: "learned" | "alibi";
    readonly policyUrl?: string;
    readonly modelName?: string;
  };
  readonly executor: "builtin" | "python";
  /**
   * Threads that train the policy and the PPM (synchronous data parallelism; models/train.ts).
   * Absent: RSTAR_TRAIN_WORKERS, else 1.
   */
  readonly trainWorkers?: number;
  /**
   * Seconds of training between two saves of a training run's state (weights, optimiser, position
   * in the data; models/trainState.ts), so that `--resume` after a crash continues training from
   * the last save. 0 saves after every step. Absent: `DEFAULT_TRAIN_STATE_SECONDS`.
   */
  readonly trainStateSeconds?: number;
  /**
   * Threads that generate the tiny policy's steps in search and evaluation when the run has no
   * worker processes (models/parallelPropose.ts), and lanes a bootstrap round's search runs in
   * (scripts/run/searchLanes.ts). Absent: 1.
   */
  readonly generateThreads?: number;
  /**
   * How the run was started (`--nats URL`, `--workers N`): a record. Each `rstar evolve`, a
   * resume included, runs over the transport its own flags name; the results are the same.
   */
  readonly transport: { readonly nats?: string; readonly workers: number };
  readonly chaos?: string;
}

const LEVELS = [1, 2, 3, 4, 5] as const;

/** Seconds between saves of a training run's state when the config does not say. */
export const DEFAULT_TRAIN_STATE_SECONDS = 60;

/** The default preset: about 10–20 minutes on two cores (by their training speed). */
const QUICK: EvolveConfig = {
  preset: "quick",
  seed: 1,
  rounds: 3,
  // Round 1 searches levels 1–3 only, policy rounds every level. Graded by the answer alone, 100% /
  // 81% / 54% of the bootstrap's correct solutions computed what the reference does at levels
  // 1 / 2 / 3 but 27% / 13% at levels 4 / 5 (the rest are coincidences of the numbers, which
  // `grade: "variants"` grades wrong). The bootstrap solves 94% of round 1's problems in about 2
  // minutes; 6,000 of them teach the policy more in the same training time than 2,000 (round-1
  // greedy 0.408 against 0.362 on 500 held-out problems).
  // Beside them, 300 problems each of levels 4–5 (the bootstrap solves about half of level 4 and a
  // third of level 5 in some 15 seconds): without any solution longer than three steps the
  // policy ends every solution at step three (round-1 greedy at level 4: 0.01 without, 0.24 with).
  // Policy rounds search 300 fresh problems each (with two epochs per round: 100 gave greedy
  // 0.608 after round 3 on 500 held-out problems, 300 gave 0.620, none at all 0.574).
  train: {
    problemsPerRound: 300,
    firstRoundProblems: 6000,
    levels: LEVELS,
    maxLevelByRound: [3, 5],
    aboveCapProblems: 300,
    grade: "variants",
  },
  test: { problems: 100, levels: LEVELS },
  search: {
    bootstrap: { rollouts: 16, k: 8, c: 2, maxDepth: 8, temperature: 1, topP: 1 },
    policy: { rollouts: 12, k: 4, c: 2, maxDepth: 8, temperature: 1, topP: 0.95 },
    retryMultiplier: 2,
    ppmFromRound: 3,
    concurrency: 16,
  },
  // Round 1 searches many problems with the cheap bootstrap and trains the policy from nothing
  // for 16 epochs (measured: 8 epochs' worth gave 12% greedy, 16 gave 23%; batches of 16 learn
  // more per token than 32 here: SFT on reference solutions, 8,000 problems × 3 epochs, reached
  // 0.88–0.91 validation accuracy with batch 8–16 and 0.76 with 32); later rounds
  // fine-tune the previous policy on all picks so far for two epochs (rStar-Math's count), which
  // the 20-minute budget affords since attention runs on a SIMD kernel, where retraining from
  // scratch each round does not (one epoch and 100 problems a round: greedy 0.518 after round 3
  // instead of 0.620 on 500 held-out problems, levels 4–5 0.14 / 0.22 instead of 0.31 / 0.25).
  // Two training threads use both cores.
  // Training is bounded by optimiser steps, not seconds, so a seed gives the same models however
  // fast the machine: round 1 stops at 1,600 steps (about 2.5 of its 16 epochs; a 240-second
  // bound gave 1,950 steps on one 2-core machine and 990 on another, and round-1 greedy 0.52 and
  // 0.38; 2,400 steps give 0.53 where 1,600 give 0.45, at half again the training time).
  sft: {
    perProblem: 2,
    epochs: 2,
    firstRoundEpochs: 16,
    batchSize: 16,
    lr: 2e-3,
    init: "previous",
    accumulate: true,
    maxSteps: 1600,
  },
  ppm: { epochs: 3, batchSize: 32, lr: 5e-4, margin: 0.5, perSide: 2, accumulate: true, maxPairs: 1500, maxSteps: 64 },
  eval: { strategies: STRATEGIES, samples: 24, temperature: 0.8, k: 4 },
  model: { policy: "tiny", size: "quick", positions: "alibi" },
  executor: "builtin",
  trainWorkers: 2,
  generateThreads: 2,
  transport: { workers: 0 },
};

/** The three presets. `quick` is the default. */
export const PRESET_CONFIGS: Readonly<Record<PresetName, EvolveConfig>> = {
  smoke: {
    preset: "smoke",
    seed: 1,
    rounds: 3,
    train: { problemsPerRound: 10, levels: LEVELS, grade: "variants" },
    test: { problems: 10, levels: LEVELS },
    search: {
      bootstrap: { rollouts: 8, k: 6, c: 2, maxDepth: 8, temperature: 1, topP: 1 },
      policy: { rollouts: 6, k: 4, c: 2, maxDepth: 8, temperature: 1, topP: 0.95 },
      retryMultiplier: 2,
      ppmFromRound: 3,
      concurrency: 4,
    },
    sft: { perProblem: 2, epochs: 4, batchSize: 16, lr: 3e-3, init: "scratch", accumulate: true },
    ppm: { epochs: 2, batchSize: 16, lr: 1e-3, margin: 0.5, perSide: 2, accumulate: true, maxPairs: 64 },
    eval: { strategies: STRATEGIES, samples: 12, temperature: 0.8, k: 4 },
    model: { policy: "tiny", size: "smoke", positions: "alibi" },
    executor: "builtin",
    transport: { workers: 0 },
  },
  quick: QUICK,
  // The long run: the quick preset's recipe and model with more of everything that the quick
  // runs showed to pay, about 70 minutes on two cores. Twice round 1's problems and two and a half
  // times its training steps (2,400 steps gave round-1 greedy 0.53 where 1,600 gave 0.45), a
  // thousand fresh problems per policy round, a fourth round, more PPM pairs and steps, and 500
  // test problems, whose figures are good to about ±2 points instead of the quick run's ±4.5. The
  // tiny `full` model size (192 wide, four layers, about seven times the compute per token) is for
  // a faster machine: `--set model.size=full`.
  full: {
    ...QUICK,
    preset: "full",
    rounds: 4,
    train: { ...QUICK.train, problemsPerRound: 1000, firstRoundProblems: 12000, aboveCapProblems: 600 },
    test: { ...QUICK.test, problems: 500 },
    sft: { ...QUICK.sft, maxSteps: 4000 },
    ppm: { ...QUICK.ppm, maxPairs: 4000, maxSteps: 128 },
  },
};

/** Command-line overrides applied on top of a preset. */
export interface ConfigOverrides {
  readonly seed?: number;
  readonly rounds?: number;
  readonly dataset?: string;
  readonly test?: string;
  readonly nats?: string;
  readonly workers?: number;
  readonly policy?: "tiny" | "openai";
  readonly policyUrl?: string;
  readonly modelName?: string;
  readonly executor?: "builtin" | "python";
  readonly chaos?: string;
}

/** The preset with the overrides applied. */
export function resolveConfig(preset: PresetName, o: ConfigOverrides = {}): EvolveConfig {
  const base = PRESET_CONFIGS[preset];
  return {
    ...base,
    seed: o.seed ?? base.seed,
    rounds: o.rounds ?? base.rounds,
    train: { ...base.train, ...(o.dataset !== undefined ? { dataset: o.dataset } : {}) },
    test: { ...base.test, ...(o.test !== undefined ? { dataset: o.test } : {}) },
    model: {
      ...base.model,
      policy: o.policy ?? base.model.policy,
      ...(o.policyUrl !== undefined ? { policyUrl: o.policyUrl } : {}),
      ...(o.modelName !== undefined ? { modelName: o.modelName } : {}),
    },
    executor: o.executor ?? base.executor,
    transport: {
      workers: o.workers ?? base.transport.workers,
      ...(o.nats !== undefined ? { nats: o.nats } : {}),
    },
    ...(o.chaos !== undefined ? { chaos: o.chaos } : {}),
  };
}

/** `n` problems balanced over `levels` as [level, count] (the first `n % levels.length` get one more). */
export function balancedCounts(n: number, levels: readonly number[]): [level: number, count: number][] {
  return levels.map((level, i) => [level, Math.floor(n / levels.length) + (i < n % levels.length ? 1 : 0)]);
}

/**
 * Problems per level that round K searches: `n` balanced over `train.levels` cut by the
 * curriculum's `maxLevelByRound`, plus `train.aboveCapProblems` of each level above the cap.
 */
export function roundLevelCounts(config: EvolveConfig, round: number, n: number): [level: number, count: number][] {
  const levels = roundLevels(config, round);
  const counts = balancedCounts(n, levels);
  const above = config.train.aboveCapProblems ?? 0;
  if (above > 0) for (const l of config.train.levels) if (!levels.includes(l)) counts.push([l, above]);
  return counts;
}

/** The levels round K searches: `train.levels`, cut by the curriculum's `maxLevelByRound`. */
export function roundLevels(config: EvolveConfig, round: number): readonly number[] {
  const caps = config.train.maxLevelByRound;
  if (caps === undefined || caps.length === 0) return config.train.levels;
  const cap = caps[Math.min(round, caps.length) - 1]!;
  const levels = config.train.levels.filter((l) => l <= cap);
  return levels.length > 0 ? levels : config.train.levels;
}

/** Search knobs of round K's training search (bootstrap in round 1). */
export function roundKnobs(config: EvolveConfig, round: number): SearchKnobs {
  return round === 1 ? config.search.bootstrap : config.search.policy;
}

/**
 * Applies `KEY=VALUE` settings such as `sft.maxSeconds=300` or `eval.strategies=greedy,mcts` to
 * a resolved config. The key must name an existing setting (or an optional one documented in
 * `EvolveConfig`), and the value must have that setting's type; anything else is an error whose
 * message names the setting.
 */
export function applySettings(config: EvolveConfig, settings: readonly string[]): EvolveConfig {
  const out = structuredClone(config) as unknown as Record<string, unknown>;
  for (const s of settings) {
    const eq = s.indexOf("=");
    if (eq <= 0) throw new RangeError(`--set ${s}: expected KEY=VALUE, e.g. sft.maxSeconds=300`);
    const key = s.slice(0, eq).trim();
    const raw = s.slice(eq + 1).trim();
    const path = key.split(".");
    let node: Record<string, unknown> = out;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (typeof next !== "object" || next === null || Array.isArray(next)) {
        throw new RangeError(`--set ${key}: no such setting (${part} is not a section)`);
      }
      node = next as Record<string, unknown>;
    }
    const leaf = path[path.length - 1]!;
    const rule = SETTING_RULES.find((r) => r.key === key);
    if (rule?.flag !== undefined) throw new RangeError(`--set ${key}: set it with ${rule.flag}`);
    if (!(leaf in node) && rule?.blank === undefined) throw new RangeError(`--set ${key}: no such setting`);
    node[leaf] = parseSetting(key, raw, leaf in node ? node[leaf] : rule!.blank);
  }
  const c = out as unknown as EvolveConfig;
  const bad = configProblem(c);
  if (bad !== undefined) throw new RangeError(`--set ${bad}`);
  return c;
}

/** How one setting is checked: `ok` on its value, else `expected` says what it should be. */
interface SettingRule {
  readonly key: string;
  readonly optional?: boolean;
  readonly ok: (v: unknown) => boolean;
  readonly expected: string;
  /** For an optional setting a preset leaves out: a value of its type, to parse `--set` against. */
  readonly blank?: unknown;
  /** The command-line flag that sets it (checked there), when `--set` may not. */
  readonly flag?: string;
}

const isWhole = (min: number) => (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= min;
const whole = (key: string, min: number, unit: string, optional = false): SettingRule => ({
  key,
  optional,
  ...(optional ? { blank: 0 } : {}),
  ok: isWhole(min),
  expected: `expected a whole number of ${unit}, at least ${min}`,
});
/** A whole number from `min` to `max` (the protocol's limits on k and rollouts). */
const wholeUpTo = (key: string, min: number, max: number, unit: string): SettingRule => ({
  key,
  ok: (v) => isWhole(min)(v) && (v as number) <= max,
  expected: `expected a whole number of ${unit} from ${min} to ${max}`,
});
const positive = (key: string, what: string, optional = false): SettingRule => ({
  key,
  optional,
  ...(optional ? { blank: 0 } : {}),
  ok: (v) => typeof v === "number" && Number.isFinite(v) && v > 0,
  expected: `expected ${what} above 0`,
});
const atLeastZero = (key: string, expected: string, optional = false): SettingRule => ({
  key,
  optional,
  ...(optional ? { blank: 0 } : {}),
  ok: (v) => typeof v === "number" && Number.isFinite(v) && v >= 0,
  expected,
});
const oneOf = (key: string, values: readonly string[], optional = false): SettingRule => ({
  key,
  optional,
  ...(optional ? { blank: "" } : {}),
  ok: (v) => typeof v === "string" && values.includes(v),
  expected: `expected ${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`,
});
const text = (key: string, flag: string): SettingRule => ({
  key,
  optional: true,
  flag,
  ok: (v) => typeof v === "string",
  expected: "expected text",
});
const flag = (key: string): SettingRule => ({ key, ok: (v) => typeof v === "boolean", expected: "expected true or false" });
const levelList = (key: string): SettingRule => ({
  key,
  ok: (v) => Array.isArray(v) && v.length > 0 && v.every((l) => isWhole(MIN_LEVEL)(l) && (l as number) <= MAX_LEVEL),
  expected: `expected a list of levels from ${MIN_LEVEL} to ${MAX_LEVEL}, e.g. 1,2,3`,
});
/** The curriculum's highest level for rounds 1, 2, … (checked against `train.levels` in `configProblem`). */
const levelCaps = (key: string): SettingRule => ({
  key,
  optional: true,
  blank: [0],
  ok: (v) => Array.isArray(v) && v.every((l) => isWhole(MIN_LEVEL)(l) && (l as number) <= MAX_LEVEL),
  expected: `expected whole levels from ${MIN_LEVEL} to ${MAX_LEVEL}, e.g. 3,5`,
});

const knobRules = (phase: "bootstrap" | "policy"): SettingRule[] => {
  const at = `search.${phase}`;
  return [
    wholeUpTo(`${at}.rollouts`, 1, MAX_ROLLOUTS, "rollouts"),
    wholeUpTo(`${at}.k`, 1, MAX_K, "candidates"),
    whole(`${at}.maxDepth`, 1, "steps"),
    atLeastZero(`${at}.c`, "expected an exploration constant of at least 0"),
    atLeastZero(`${at}.temperature`, "expected at least 0 (0 is greedy)"),
    {
      key: `${at}.topP`,
      ok: (v) => typeof v === "number" && v > 0 && v <= 1,
      expected: "expected above 0 and at most 1",
    },
  ];
};

/** Every setting of `EvolveConfig` and what it must hold. */
const SETTING_RULES: readonly SettingRule[] = [
  oneOf("preset", PRESETS),
  { key: "seed", ok: isWhole(0), expected: "expected a whole number, at least 0" },
  whole("rounds", 1, "rounds"),
  whole("train.problemsPerRound", 0, "problems"),
  whole("train.firstRoundProblems", 1, "problems", true),
  levelList("train.levels"),
  whole("train.aboveCapProblems", 0, "problems per level", true),
  levelCaps("train.maxLevelByRound"),
  text("train.dataset", "--dataset FILE"),
  oneOf("train.grade", ["answer", "variants"], true),
  whole("test.problems", 1, "problems"),
  levelList("test.levels"),
  text("test.dataset", "--test FILE"),
  ...knobRules("bootstrap"),
  ...knobRules("policy"),
  whole("search.retryMultiplier", 1, "times the rollouts"),
  whole("search.ppmFromRound", 1, "rounds"),
  whole("search.concurrency", 1, "problems"),
  positive("search.requestTimeoutMs", "a number of milliseconds", true),
  whole("sft.perProblem", 1, "trajectories"),
  whole("sft.epochs", 1, "epochs"),
  whole("sft.firstRoundEpochs", 1, "epochs", true),
  whole("sft.batchSize", 1, "examples"),
  positive("sft.lr", "a learning rate"),
  oneOf("sft.init", ["scratch", "previous"]),
  flag("sft.accumulate"),
  positive("sft.maxSeconds", "a number of seconds", true),
  whole("sft.maxSteps", 1, "optimiser steps", true),
  whole("ppm.epochs", 1, "epochs"),
  whole("ppm.batchSize", 1, "pairs"),
  positive("ppm.lr", "a learning rate"),
  atLeastZero("ppm.margin", "expected a Q-value margin of at least 0"),
  whole("ppm.perSide", 1, "steps"),
  flag("ppm.accumulate"),
  whole("ppm.maxPairs", 1, "pairs"),
  positive("ppm.maxSeconds", "a number of seconds", true),
  whole("ppm.maxSteps", 1, "optimiser steps", true),
  whole("eval.samples", 1, "samples"),
  atLeastZero("eval.temperature", "expected at least 0 (0 is greedy)"),
  wholeUpTo("eval.k", 1, MAX_K, "candidates"),
  oneOf("model.policy", ["tiny", "openai"]),
  oneOf("model.size", PRESETS),
  oneOf("model.positions", ["learned", "alibi"], true),
  text("model.policyUrl", "--policy-url URL"),
  text("model.modelName", "--model NAME"),
  oneOf("executor", ["builtin", "python"]),
  whole("trainWorkers", 1, "threads", true),
  atLeastZero("trainStateSeconds", "expected a number of seconds, at least 0 (0 saves after every step)", true),
  whole("generateThreads", 1, "threads", true),
  { ...whole("transport.workers", 0, "worker processes"), flag: "--workers N" },
  text("transport.nats", "--nats URL"),
  text("chaos", "--chaos SPEC"),
];

function settingAt(config: unknown, key: string): unknown {
  let node: unknown = config;
  for (const part of key.split(".")) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function shown(v: unknown): string {
  if (Array.isArray(v)) return v.join(",");
  return typeof v === "string" ? v : JSON.stringify(v);
}

/**
 * The first setting of `config` that no run could use, as `KEY=VALUE: expected ...`, or undefined
 * when every setting is good. Checks a `--set` before any work starts, and a resumed run's
 * `config.json` (which may have been edited by hand) before it is trusted.
 */
export function configProblem(config: unknown): string | undefined {
  for (const rule of SETTING_RULES) {
    const v = settingAt(config, rule.key);
    if (v === undefined) {
      if (rule.optional) continue;
      return `${rule.key}: missing (${rule.expected.replace(/^expected /, "")})`;
    }
    if (!rule.ok(v)) return `${rule.key}=${shown(v)}: ${rule.expected}`;
  }
  const c = config as EvolveConfig;
  // 0 fresh problems a round (policy rounds that only train again) needs round 1's own count.
  if (c.train.problemsPerRound === 0 && c.train.firstRoundProblems === undefined) {
    return "train.problemsPerRound=0: round 1 would search nothing; set train.firstRoundProblems too";
  }
  const strategies = c.eval.strategies as unknown;
  if (!Array.isArray(strategies)) return `eval.strategies: expected a list such as ${STRATEGIES.join(",")}`;
  const unknownStrategy = strategies.find((x) => !(STRATEGIES as readonly unknown[]).includes(x));
  if (unknownStrategy !== undefined) {
    return `eval.strategies=${shown(strategies)}: unknown strategy "${unknownStrategy}" (use ${STRATEGIES.join(", ")})`;
  }
  // The rule above took the caps as whole levels; a cap below every searched level leaves a round nothing.
  const caps = c.train.maxLevelByRound;
  const lowest = Math.min(...c.train.levels);
  if (caps !== undefined && caps.some((x) => x < lowest)) {
    return `train.maxLevelByRound=${shown(caps)}: expected whole levels, each at least ${lowest}`;
  }
  if (c.model.policy === "openai" && (c.model.policyUrl === undefined || c.model.modelName === undefined)) {
    return `model.policy=openai: needs model.policyUrl and model.modelName (--policy-url URL --model NAME)`;
  }
  return undefined;
}

function parseSetting(key: string, raw: string, current: unknown): unknown {
  const num = (t: string) => {
    const v = Number(t);
    if (t === "" || !Number.isFinite(v)) throw new RangeError(`--set ${key}=${raw}: expected a number`);
    return v;
  };
  if (typeof current === "number") return num(raw);
  if (typeof current === "boolean") {
    if (raw !== "true" && raw !== "false") throw new RangeError(`--set ${key}=${raw}: expected true or false`);
    return raw === "true";
  }
  if (Array.isArray(current)) {
    const parts = raw.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
    return typeof current[0] === "number" ? parts.map(num) : parts;
  }
  if (typeof current === "string") return raw;
  throw new RangeError(`--set ${key}: this setting cannot be set from the command line`);
}
