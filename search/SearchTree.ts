/**
 * MCTS over a plain-JSON tree with an ask/tell interface (rStar-Math's rollouts, TreeQuest's
 * trials). A rollout walks from the root by UCT/PUCT (unvisited children first), asks the caller
 * to expand the leaf it reaches, moves into one of the new children, and repeats until it reaches
 * a terminal, whose value is back-propagated to the root. A rollout whose selection ends at an
 * existing terminal completes at once, but only while no other trial is active: otherwise `ask`
 * stops there, so the budget is not spent re-visiting terminals while expansions are in flight. Each pending expansion is a trial;
 * many can be in flight at once, kept apart by virtual loss.
 *
 * Mutation: `ask`, `tell` and `abandon` update the tree IN PLACE and return the same object (so a
 * cycle copies nothing). Callers that need a snapshot serialise it (`JSON.stringify(tree)`); a
 * parsed copy continues exactly as the original would.
 *
 * Note on unvisited children: the reference code scores them 0 in UCT; here (for UCT) they are
 * always tried first, picked uniformly at random with the tree's PRNG. For PUCT they score Q = 0.
 */
import type { Step } from "../math/contracts.ts";
import { Prng } from "../math/prng.ts";
import {
  type Ask,
  type Candidate,
  defaultSearchConfig,
  type SearchConfig,
  type SearchNode,
  type SearchStats,
  type SearchTree,
} from "./types.ts";

const emptyStep: Step = { text: "", code: "" };

/** A new tree holding only the root, for one problem (`answer` becomes the tree's reference). */
export function createTree(
  problem: { readonly id: string; readonly problem: string; readonly answer?: string },
  config: Partial<SearchConfig>,
  seed: number,
): SearchTree {
  const full: SearchConfig = { ...defaultSearchConfig, ...stripUndefined(config) };
  validateConfig(full);
  const root: SearchNode = {
    id: 0,
    parent: -1,
    depth: 0,
    children: [],
    step: emptyStep,
    stdout: "",
    terminal: false,
    reward: 0,
    N: 0,
    W: 0,
    prior: 1,
    seeded: false,
    inFlight: 0,
    expanded: false,
    pending: -1,
    logprob: 0,
  };
  const tree: SearchTree = {
    version: 1,
    problemId: problem.id,
    problem: problem.problem,
    config: full,
    nodes: [root],
    rng: Prng.fromSeed(seed).state(),
    rolloutsStarted: 0,
    rolloutsDone: 0,
    correctTerminals: 0,
    nextTrialId: 0,
    trials: [],
  };
  if (problem.answer !== undefined && problem.answer !== "") {
    return { ...tree, reference: problem.answer };
  }
  return tree;
}

/** The tree's rollout budget: `rollouts`, times `hardMultiplier` when the problem is marked hard. */
export function budget(tree: SearchTree): number {
  const c = tree.config;
  return c.hard ? c.rollouts * c.hardMultiplier : c.rollouts;
}

/** Mean value of a node: W / N when visited; a terminal's reward or the PPM value otherwise. */
export function q(node: SearchNode): number {
  if (node.N > 0) return node.W / node.N;
  if (node.terminal) return node.reward;
  return node.value ?? 0;
}

/**
 * Hands out up to `max` expansion requests (mutates `tree`): first the continuations of rollouts
 * that moved into a new child, then new rollouts while the budget allows. A new rollout that
 * selects an already-visited terminal completes at once (its reward is back-propagated again).
 * Never returns a node that already has a pending expansion; returns no asks when the search is
 * done, everything selectable is in flight, or selection reaches an already-visited terminal
 * while other trials are active (call again after the next `tell`). With `startNew: false` only
 * continuations are handed out (a caller whose sample budget is spent finishes what it started).
 */
export function ask(
  tree: SearchTree,
  max: number,
  opts: { readonly startNew?: boolean } = {},
): { tree: SearchTree; asks: Ask[] } {
  const asks: Ask[] = [];
  for (const trial of tree.trials) {
    if (asks.length >= max) break;
    if (trial.issued) continue;
    trial.issued = true;
    asks.push({ trialId: trial.id, nodeId: trial.nodeId, steps: pathSteps(tree, trial.nodeId) });
  }
  if (asks.length >= max || !canStart(tree) || opts.startNew === false) return { tree, asks };
  const rng = Prng.fromState(tree.rng);
  while (asks.length < max && canStart(tree)) {
    const leaf = descend(tree, 0, rng);
    if (leaf < 0) break;
    const node = tree.nodes[leaf]!;
    // Re-visiting a terminal teaches nothing new while expansions are still out: wait for them.
    if (node.terminal && node.N > 0 && tree.trials.length > 0) break;
    tree.rolloutsStarted++;
    if (node.terminal) {
      backpropagate(tree, leaf, node.reward, false);
      tree.rolloutsDone++;
      continue;
    }
    const id = tree.nextTrialId++;
    node.pending = id;
    addInFlight(tree, leaf, 1);
    tree.trials.push({ id, nodeId: leaf, issued: true });
    asks.push({ trialId: id, nodeId: leaf, steps: pathSteps(tree, leaf) });
  }
  tree.rng = rng.state();
  return { tree, asks };
}

/**
 * Attaches `candidates` as children of the trial's node and moves the rollout into one of them
 * (mutates `tree`). Exact duplicates (same code) are merged; a failed candidate is a terminal
 * worth −1; a printed answer is a terminal worth `reward` (else `value`, else 0); a non-terminal
 * child at `maxDepth` is a terminal worth −1; with `ppmSeed`, a non-terminal child carrying
 * `value` starts with one pseudo-visit worth it. If the chosen child is terminal its value is
 * back-propagated and the rollout ends; otherwise the rollout continues there (the next `ask`
 * hands it out under a new trial id). An empty candidate list makes the node a dead end worth −1.
 * A trial id that is unknown, already told or abandoned is ignored.
 */
export function tell(tree: SearchTree, trialId: number, candidates: readonly Candidate[]): SearchTree {
  const idx = findTrial(tree, trialId);
  if (idx < 0 || !tree.trials[idx]!.issued) return tree;
  const trial = tree.trials[idx]!;
  tree.trials.splice(idx, 1);
  const node = tree.nodes[trial.nodeId]!;
  node.pending = -1;
  node.expanded = true;
  attachChildren(tree, node, candidates);
  if (node.children.length === 0) {
    node.terminal = true;
    node.reward = -1;
    finishRollout(tree, node.id);
    return tree;
  }
  const rng = Prng.fromState(tree.rng);
  const childId = pickChild(tree, node, rng, null);
  tree.rng = rng.state();
  const child = tree.nodes[childId]!;
  child.inFlight++;
  if (child.terminal) {
    finishRollout(tree, childId);
    return tree;
  }
  const id = tree.nextTrialId++;
  child.pending = id;
  tree.trials.push({ id, nodeId: childId, issued: false });
  return tree;
}

/**
 * Drops a trial whose request failed for good (mutates `tree`): releases its virtual loss and the
 * node's pending mark, records no value, and returns its rollout to the budget so it may be retried.
 * An unknown trial id is ignored.
 */
export function abandon(tree: SearchTree, trialId: number): SearchTree {
  const idx = findTrial(tree, trialId);
  if (idx < 0) return tree;
  const trial = tree.trials[idx]!;
  tree.trials.splice(idx, 1);
  tree.nodes[trial.nodeId]!.pending = -1;
  addInFlight(tree, trial.nodeId, -1);
  tree.rolloutsStarted--;
  return tree;
}

/** Whether nothing is in flight and no further rollout may start (budget spent or early stop). */
export function isDone(tree: SearchTree): boolean {
  return tree.trials.length === 0 && !canStart(tree);
}

/** Summary numbers of the tree. */
export function stats(tree: SearchTree): SearchStats {
  let maxDepth = 0;
  let best: SearchNode | undefined;
  for (const n of tree.nodes) {
    if (n.depth > maxDepth) maxDepth = n.depth;
    if (n.terminal && n.answer !== undefined && n.error === undefined) {
      if (best === undefined || betterByQ(n, best)) best = n;
    }
  }
  const base = {
    nodes: tree.nodes.length,
    rolloutsStarted: tree.rolloutsStarted,
    rolloutsDone: tree.rolloutsDone,
    inFlight: tree.nodes[0]!.inFlight,
    correctTerminals: tree.correctTerminals,
    solved: tree.correctTerminals > 0,
    maxDepth,
  };
  return best?.answer !== undefined ? { ...base, bestAnswer: best.answer } : base;
}

/** The steps from the root to `nodeId` (empty for the root). */
export function pathSteps(tree: SearchTree, nodeId: number): Step[] {
  const nodes = tree.nodes;
  const node = nodes[nodeId];
  if (node === undefined) throw new RangeError(`Cannot walk the path: node ${nodeId} does not exist`);
  const out: Step[] = new Array(node.depth);
  let n = node;
  for (let i = node.depth - 1; i >= 0; i--) {
    out[i] = n.step;
    n = nodes[n.parent]!;
  }
  return out;
}

/** Node ids from the first step to `nodeId` (root excluded; empty for the root). */
export function pathIds(tree: SearchTree, nodeId: number): number[] {
  const node = tree.nodes[nodeId];
  if (node === undefined) throw new RangeError(`Cannot walk the path: node ${nodeId} does not exist`);
  const out: number[] = new Array(node.depth);
  let id = nodeId;
  for (let i = node.depth - 1; i >= 0; i--) {
    out[i] = id;
    id = tree.nodes[id]!.parent;
  }
  return out;
}

/** Whether `a` beats `b` as a final answer by Q (then visits, then lower id). */
export function betterByQ(a: SearchNode, b: SearchNode): boolean {
  const qa = q(a);
  const qb = q(b);
  if (qa !== qb) return qa > qb;
  if (a.N !== b.N) return a.N > b.N;
  return a.id < b.id;
}

// ---------------------------------------------------------------------------------------------

function stripUndefined(config: Partial<SearchConfig>): Partial<SearchConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (v !== undefined) out[k] = v;
  return out as Partial<SearchConfig>;
}

function validateConfig(c: SearchConfig): void {
  const positiveInts: (keyof SearchConfig)[] = ["rollouts", "hardMultiplier", "k", "maxDepth"];
  for (const key of positiveInts) {
    const v = c[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      throw new RangeError(`Cannot create a search tree: ${key} must be a positive integer, got ${String(v)}`);
    }
  }
  if (!(c.c >= 0) || !(c.virtualLoss >= 0) || !(c.stopAfterCorrect >= 0)) {
    throw new RangeError("Cannot create a search tree: c, virtualLoss and stopAfterCorrect must be non-negative");
  }
  if (c.selection !== "uct" && c.selection !== "puct") {
    throw new RangeError(`Cannot create a search tree: unknown selection "${String(c.selection)}"`);
  }
}

function canStart(tree: SearchTree): boolean {
  if (tree.rolloutsStarted >= budget(tree)) return false;
  const stop = tree.config.stopAfterCorrect;
  return !(stop > 0 && tree.correctTerminals >= stop);
}

function findTrial(tree: SearchTree, trialId: number): number {
  const trials = tree.trials;
  for (let i = 0; i < trials.length; i++) if (trials[i]!.id === trialId) return i;
  return -1;
}

function clamp(v: number): number {
  if (!Number.isFinite(v)) return v > 0 ? 1 : -1;
  return v > 1 ? 1 : v < -1 ? -1 : v;
}

/** Adds `delta` to the in-flight count of `nodeId` and all its ancestors. */
function addInFlight(tree: SearchTree, nodeId: number, delta: number): void {
  for (let id = nodeId; id >= 0; id = tree.nodes[id]!.parent) tree.nodes[id]!.inFlight += delta;
}

/** Adds one visit worth `value` to `nodeId` and its ancestors; `release` also drops virtual loss. */
function backpropagate(tree: SearchTree, nodeId: number, value: number, release: boolean): void {
  const nodes = tree.nodes;
  for (let id = nodeId; id >= 0;) {
    const n = nodes[id]!;
    n.N++;
    n.W += value;
    if (release) n.inFlight--;
    id = n.parent;
  }
}

function finishRollout(tree: SearchTree, terminalId: number): void {
  backpropagate(tree, terminalId, tree.nodes[terminalId]!.reward, true);
  tree.rolloutsDone++;
}

/**
 * Walks down from `id` to the node a new rollout should stop at: an unexpanded node with no
 * pending expansion, or a terminal. Returns −1 when every path below `id` is blocked by pending
 * expansions. Blocked children are skipped and the next best one is tried.
 */
function descend(tree: SearchTree, id: number, rng: Prng): number {
  const node = tree.nodes[id]!;
  if (node.terminal) return id;
  if (!node.expanded) return node.pending < 0 ? id : -1;
  let excluded: number[] | null = null;
  for (;;) {
    const child = pickChild(tree, node, rng, excluded);
    if (child < 0) return -1;
    const leaf = descend(tree, child, rng);
    if (leaf >= 0) return leaf;
    (excluded ??= []).push(child);
  }
}

/** The child of `node` to follow (unvisited first for UCT), skipping `excluded`; −1 if none. */
function pickChild(tree: SearchTree, node: SearchNode, rng: Prng, excluded: number[] | null): number {
  const nodes = tree.nodes;
  const children = node.children;
  const cfg = tree.config;
  if (cfg.selection === "uct") {
    let unvisited = 0;
    for (const cid of children) {
      const ch = nodes[cid]!;
      if (ch.N + ch.inFlight === 0 && (excluded === null || !excluded.includes(cid))) unvisited++;
    }
    if (unvisited > 0) {
      let pick = unvisited === 1 ? 0 : rng.int(unvisited);
      for (const cid of children) {
        const ch = nodes[cid]!;
        if (ch.N + ch.inFlight === 0 && (excluded === null || !excluded.includes(cid))) {
          if (pick === 0) return cid;
          pick--;
        }
      }
    }
  }
  const vl = cfg.virtualLoss;
  const parentN = node.N + node.inFlight;
  const logParent = Math.log(Math.max(parentN, 1));
  const sqrtParent = Math.sqrt(Math.max(parentN, 1));
  let best = -1;
  let bestScore = -Infinity;
  for (const cid of children) {
    if (excluded !== null && excluded.includes(cid)) continue;
    const ch = nodes[cid]!;
    const n = ch.N + ch.inFlight;
    const qv = n > 0 ? (ch.W - vl * ch.inFlight) / n : 0;
    const score = cfg.selection === "uct"
      ? qv + cfg.c * Math.sqrt(logParent / n)
      : qv + cfg.c * ch.prior * sqrtParent / (1 + n);
    if (score > bestScore) {
      bestScore = score;
      best = cid;
    }
  }
  return best;
}

function attachChildren(tree: SearchTree, parent: SearchNode, candidates: readonly Candidate[]): void {
  const cfg = tree.config;
  const kept: Candidate[] = [];
  for (const c of candidates) {
    let dup = false;
    for (const k of kept) {
      if (k.step === c.step || k.step.code === c.step.code) {
        dup = true;
        break;
      }
    }
    if (!dup) kept.push(c);
  }
  const priors = childPriors(kept);
  const depth = parent.depth + 1;
  for (let i = 0; i < kept.length; i++) {
    const c = kept[i]!;
    const failed = c.error !== undefined;
    let terminal = c.terminal || failed;
    let reward = failed ? -1 : terminal ? clamp(c.reward ?? c.value ?? 0) : 0;
    if (!terminal && depth >= cfg.maxDepth) {
      terminal = true;
      reward = -1;
    }
    const value = c.value === undefined ? undefined : clamp(c.value);
    const seeded = !terminal && cfg.ppmSeed && value !== undefined;
    const id = tree.nodes.length;
    // One object shape for every node (absent optional fields are undefined, dropped by JSON).
    const node: SearchNode = {
      id,
      parent: parent.id,
      depth,
      children: [],
      step: c.step,
      stdout: c.stdout,
      error: failed ? c.error : undefined,
      terminal,
      answer: failed ? undefined : c.answer,
      reward,
      N: seeded ? 1 : 0,
      W: seeded ? value! : 0,
      prior: priors[i]!,
      value,
      seeded,
      inFlight: 0,
      expanded: false,
      pending: -1,
      logprob: c.logprob,
    };
    tree.nodes.push(node);
    parent.children.push(id);
    if (terminal && !failed && node.answer !== undefined && reward > 0) tree.correctTerminals++;
  }
}

/** Priors for PUCT: the given ones (missing → uniform share), else softmax of the logprobs. */
function childPriors(cands: readonly Candidate[]): number[] {
  const n = cands.length;
  const out: number[] = new Array(n);
  let given = false;
  let maxLp = -Infinity;
  for (const c of cands) {
    if (c.prior !== undefined) given = true;
    if (c.logprob > maxLp) maxLp = c.logprob;
  }
  if (given) {
    for (let i = 0; i < n; i++) out[i] = cands[i]!.prior ?? 1 / n;
    return out;
  }
  if (!Number.isFinite(maxLp)) return out.fill(1 / n);
  let total = 0;
  for (let i = 0; i < n; i++) total += out[i] = Math.exp(cands[i]!.logprob - maxLp);
  for (let i = 0; i < n; i++) out[i]! /= total;
  return out;
}
