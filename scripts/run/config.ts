/**
 * The evolve job's configuration: plain data, three presets (`smoke`, `quick`, `full`), and
 * overrides from the command line. The resolved config is stored in the run's `config.json`.
 */

/** Names of the presets. */
export const PRESETS = ["smoke", "quick", "full"] as const;
/** One preset name. */
export type PresetName = typeof PRESETS[number];

/** Evaluation strategies, all at the same sample budget. */
export const STRATEGIES = ["greedy", "bon-vote", "bon-ppm", "mcts"] as const;
/** One evaluation strategy. */
export type Strategy = typeof STRATEGIES[number];

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
   * Threads that generate the tiny policy's steps in search and evaluation when the run has no
   * worker processes (models/parallelPropose.ts), and lanes a bootstrap round's search runs in
   * (scripts/run/searchLanes.ts). Absent: 1.
   */
  readonly generateThreads?: number;
  readonly transport: { readonly nats?: string; readonly workers: number };
  readonly chaos?: string;
}

const LEVELS = [1, 2, 3, 4, 5] as const;

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
    transport: { workers: 1 },
  },
  quick: {
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
    transport: { workers: 1 },
  },
  full: {
    preset: "full",
    seed: 1,
    rounds: 4,
    train: { problemsPerRound: 1000, levels: LEVELS, grade: "variants" },
    test: { problems: 500, levels: LEVELS },
    search: {
      bootstrap: { rollouts: 16, k: 8, c: 2, maxDepth: 12, temperature: 1, topP: 1 },
      policy: { rollouts: 16, k: 8, c: 2, maxDepth: 12, temperature: 1, topP: 0.95 },
      retryMultiplier: 8,
      ppmFromRound: 3,
      concurrency: 16,
    },
    sft: { perProblem: 2, epochs: 20, batchSize: 32, lr: 1e-3, init: "scratch", accumulate: true },
    ppm: { epochs: 4, batchSize: 32, lr: 5e-4, margin: 0.5, perSide: 2, accumulate: true, maxPairs: 20000 },
    eval: { strategies: STRATEGIES, samples: 64, temperature: 0.8, k: 4 },
    model: { policy: "tiny", size: "full", positions: "alibi" },
    executor: "builtin",
    transport: { workers: 1 },
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
    const optional = OPTIONAL_NUMBERS.has(key) || OPTIONAL_NUMBER_LISTS.has(key);
    if (!(leaf in node) && !optional) throw new RangeError(`--set ${key}: no such setting`);
    node[leaf] = parseSetting(key, raw, leaf in node ? node[leaf] : OPTIONAL_NUMBER_LISTS.has(key) ? [0] : 0);
  }
  const c = out as unknown as EvolveConfig;
  const bad = c.eval.strategies.find((x) => !(STRATEGIES as readonly string[]).includes(x));
  if (bad !== undefined) throw new RangeError(`--set eval.strategies: unknown strategy "${bad}" (use ${STRATEGIES.join(", ")})`);
  const deadline = c.search.requestTimeoutMs;
  if (deadline !== undefined && !(deadline > 0)) {
    throw new RangeError(`--set search.requestTimeoutMs=${deadline}: expected a positive number of milliseconds`);
  }
  const caps = c.train.maxLevelByRound;
  if (caps !== undefined && caps.some((x) => !Number.isInteger(x) || x < Math.min(...c.train.levels))) {
    throw new RangeError(`--set train.maxLevelByRound=${caps.join(",")}: expected whole levels, each at least ${Math.min(...c.train.levels)}`);
  }
  wholeAtLeast("train.aboveCapProblems", c.train.aboveCapProblems, 0, "problems per level");
  wholeAtLeast("sft.maxSteps", c.sft.maxSteps, 1, "optimiser steps");
  wholeAtLeast("ppm.maxSteps", c.ppm.maxSteps, 1, "optimiser steps");
  wholeAtLeast("generateThreads", c.generateThreads, 1, "threads");
  // Search knobs are checked here, not when round 2 first sends them to an expander.
  for (const phase of ["bootstrap", "policy"] as const) {
    const k = c.search[phase];
    const at = `search.${phase}`;
    wholeAtLeast(`${at}.rollouts`, k.rollouts, 1, "rollouts");
    wholeAtLeast(`${at}.k`, k.k, 1, "candidates");
    wholeAtLeast(`${at}.maxDepth`, k.maxDepth, 1, "steps");
    if (!(k.c >= 0)) throw new RangeError(`--set ${at}.c=${k.c}: expected an exploration constant of at least 0`);
    if (!(k.temperature >= 0)) throw new RangeError(`--set ${at}.temperature=${k.temperature}: expected at least 0 (0 is greedy)`);
    if (!(k.topP > 0 && k.topP <= 1)) throw new RangeError(`--set ${at}.topP=${k.topP}: expected above 0 and at most 1`);
  }
  if (!(c.eval.temperature >= 0)) throw new RangeError(`--set eval.temperature=${c.eval.temperature}: expected at least 0 (0 is greedy)`);
  if (c.train.grade !== undefined && c.train.grade !== "answer" && c.train.grade !== "variants") {
    throw new RangeError(`--set train.grade=${c.train.grade}: expected answer or variants`);
  }
  if (c.model.positions !== undefined && c.model.positions !== "learned" && c.model.positions !== "alibi") {
    throw new RangeError(`--set model.positions=${c.model.positions}: expected learned or alibi`);
  }
  if (c.sft.init !== "scratch" && c.sft.init !== "previous") {
    throw new RangeError(`--set sft.init=${c.sft.init}: expected scratch or previous`);
  }
  return c;
}

/** Refuses an optional setting that is set but not a whole number of at least `min`. */
function wholeAtLeast(key: string, v: number | undefined, min: number, unit: string): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) {
    throw new RangeError(`--set ${key}=${v}: expected a whole number of ${unit}, at least ${min}`);
  }
}

/** Optional numeric settings that presets may leave out. */
const OPTIONAL_NUMBERS = new Set(["train.firstRoundProblems", "train.aboveCapProblems", "sft.maxSeconds", "ppm.maxSeconds", "sft.maxSteps", "ppm.maxSteps", "search.requestTimeoutMs", "trainWorkers", "generateThreads", "sft.firstRoundEpochs"]);
/** Optional number-list settings that presets may leave out. */
const OPTIONAL_NUMBER_LISTS = new Set(["train.maxLevelByRound"]);

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
