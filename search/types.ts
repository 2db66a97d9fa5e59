/**
 * The search tree's data: a plain, JSON-serialisable value. Nodes live in a flat table indexed
 * by id; parents and children are ids, never object references, so `JSON.parse(JSON.stringify(tree))`
 * continues the search exactly as the original would. The functions in `SearchTree.ts` read and
 * update it; extraction lives in `extract.ts`.
 */
import type { ExecError, Step } from "../math/contracts.ts";

/** Knobs of one tree's search. Defaults (`defaultSearchConfig`) follow rStar-Math's reference code. */
export interface SearchConfig {
  /** Rollouts per problem (rStar: 8–16). */
  readonly rollouts: number;
  /** Whether this problem is marked hard: its budget is `rollouts × hardMultiplier`. */
  readonly hard: boolean;
  /** Budget multiplier for hard problems (rStar: 64–128 rollouts for the hardest). */
  readonly hardMultiplier: number;
  /** Candidates asked for per expansion (rStar: 5–32). */
  readonly k: number;
  /** Most steps a path may have; a non-terminal step at this depth becomes a terminal worth −1. */
  readonly maxDepth: number;
  /** Exploration constant c (rStar: 2). */
  readonly c: number;
  /** `uct`: Q + c·√(ln N_parent / N); `puct`: Q + c·P·√N_parent / (1 + N). */
  readonly selection: "uct" | "puct";
  /** Seed a new non-terminal child with one pseudo-visit worth its PPM value (rStar Eq. 3). */
  readonly ppmSeed: boolean;
  /** Each pending selection counts as one visit worth −virtualLoss while in flight (virtual loss). */
  readonly virtualLoss: number;
  /** Stop starting rollouts once this many distinct correct terminals exist (0 = never). */
  readonly stopAfterCorrect: number;
}

/** One node: the root (no step) or a step with its execution result and statistics. */
export interface SearchNode {
  readonly id: number;
  /** Parent id; −1 for the root. */
  readonly parent: number;
  /** Root 0, its children 1, … (= number of steps on the path). */
  readonly depth: number;
  /** Child ids, in the order they were attached. */
  children: number[];
  /** The step (the root holds an empty step). */
  readonly step: Step;
  /** What this step's code printed. */
  readonly stdout: string;
  /** Execution failure of this step (then the node is a terminal worth −1). */
  readonly error?: ExecError;
  /** No children will ever be attached: printed an answer, failed, or hit the depth limit. */
  terminal: boolean;
  /** The printed final answer of a terminal step. */
  readonly answer?: string;
  /** Value back-propagated each time a rollout ends here (terminals only; 0 otherwise). */
  reward: number;
  /** Visit count (including a PPM pseudo-visit when `seeded`). */
  N: number;
  /** Sum of values back-propagated through this node (Q = W / N). */
  W: number;
  /** Prior probability among its siblings (PUCT). */
  prior: number;
  /** The scorer's (PPM) value of this step, when one was given. */
  readonly value?: number;
  /** Whether N and W include one pseudo-visit worth `value` (rStar Eq. 3). */
  readonly seeded: boolean;
  /** Number of active trials whose node is this one or below it (virtual loss). */
  inFlight: number;
  /** Children have been attached (or the node turned terminal on an empty expansion). */
  expanded: boolean;
  /** Trial id of the expansion in progress at this node; −1 when none. */
  pending: number;
  /** Log-probability of the step under the policy that proposed it (0 for the root). */
  readonly logprob: number;
}

/** One expansion request in flight (or ready to be asked): a rollout waiting at `nodeId`. */
export interface Trial {
  readonly id: number;
  /** The unexpanded node the rollout is waiting at. */
  readonly nodeId: number;
  /** Whether `ask` has handed this trial out (only issued trials accept a `tell`). */
  issued: boolean;
}

/** The whole search state of one problem, as plain JSON. */
export interface SearchTree {
  readonly version: 1;
  readonly problemId: string;
  readonly problem: string;
  /** Reference answer (training rounds only); read by nobody but the caller's grading step. */
  readonly reference?: string;
  readonly config: SearchConfig;
  /** Flat node table: `nodes[id].id === id`; node 0 is the root. */
  nodes: SearchNode[];
  /** State of the tree's PRNG (math/prng.ts), for tie-breaking among unvisited children. */
  rng: [number, number, number, number];
  /** Rollouts started (a rollout is counted once, however many expansions it takes). */
  rolloutsStarted: number;
  /** Rollouts that reached a terminal and were back-propagated. */
  rolloutsDone: number;
  /** Distinct terminal nodes whose reward is positive (graded correct). */
  correctTerminals: number;
  /** Next trial id (ids are never reused, so a repeated `tell` is recognised). */
  nextTrialId: number;
  /** Active trials, oldest first. */
  trials: Trial[];
}

/** An expansion request handed to the caller: propose children for `nodeId` after `steps`. */
export interface Ask {
  readonly trialId: number;
  readonly nodeId: number;
  /** The steps from the root to `nodeId` (the path so far; empty at the root). */
  readonly steps: Step[];
}

/** A candidate child the caller proposes, executed and (for terminals) graded or scored. */
export interface Candidate {
  readonly step: Step;
  readonly stdout: string;
  readonly error?: ExecError;
  /** The step printed an answer (or failed): no children will follow it. */
  readonly terminal: boolean;
  readonly answer?: string;
  readonly logprob: number;
  /** Terminal value: +1/−1 graded by the caller in training, a PPM score at test time. */
  readonly reward?: number;
  /** The scorer's (PPM) value of this step in [−1, 1]. */
  readonly value?: number;
  /** Prior for PUCT; when absent, priors come from the softmax of the siblings' logprobs. */
  readonly prior?: number;
}

/** A root-to-terminal path with its outcome and the Q statistics of its steps. */
export interface Trajectory {
  /** Terminal node id. */
  readonly nodeId: number;
  /** Node ids from the first step to the terminal (root excluded). */
  readonly nodeIds: number[];
  readonly steps: Step[];
  readonly answer?: string;
  /** The terminal's reward was positive (graded correct in a training round). */
  readonly correct: boolean;
  /** Whether the terminal step failed to execute (or hit the depth limit without an answer). */
  readonly failed: boolean;
  readonly meanQ: number;
  readonly minQ: number;
}

/** A preference pair for the PPM: after `prefix`, `chosen` is preferred over `rejected`. */
export interface PreferencePair {
  /** `step`: sibling steps at a shared prefix; `final`: two whole solutions (empty prefix). */
  readonly kind: "step" | "final";
  readonly prefix: Step[];
  readonly chosen: Step[];
  readonly rejected: Step[];
  readonly chosenQ: number;
  readonly rejectedQ: number;
}

/** Summary numbers of a tree. */
export interface SearchStats {
  readonly nodes: number;
  readonly rolloutsStarted: number;
  readonly rolloutsDone: number;
  readonly inFlight: number;
  /** Distinct terminal nodes with a positive reward. */
  readonly correctTerminals: number;
  /** At least one correct terminal exists. */
  readonly solved: boolean;
  /** The answer `chooseAnswer(tree, "q")` would give. */
  readonly bestAnswer?: string;
  readonly maxDepth: number;
}

/** rStar-Math's reference-code defaults. */
export const defaultSearchConfig: SearchConfig = {
  rollouts: 16,
  hard: false,
  hardMultiplier: 4,
  k: 8,
  maxDepth: 16,
  c: 2,
  selection: "uct",
  ppmSeed: false,
  virtualLoss: 1,
  stopAfterCorrect: 0,
};
