/**
 * What the Trainer learns from a finished tree, and how a test-time answer is chosen:
 * every root-to-terminal trajectory with its Q statistics, the SFT picks (top correct by mean Q),
 * the PPM's preference pairs (rStar-Math §3.3), and the final answer by Q, vote or PPM.
 */
import { betterByQ, pathIds, pathSteps, q } from "./SearchTree.ts";
import type { PreferencePair, SearchNode, SearchTree, Trajectory } from "./types.ts";

/** Whether a terminal node is a graded-correct answer (positive reward, no error). */
export function isCorrect(node: SearchNode): boolean {
  return node.terminal && node.error === undefined && node.answer !== undefined && node.reward > 0;
}

/** Every root-to-terminal path, in node-id order, with answer, correctness, mean Q and min Q. */
export function trajectories(tree: SearchTree): Trajectory[] {
  const out: Trajectory[] = [];
  for (const node of tree.nodes) {
    if (!node.terminal || node.id === 0) continue;
    const ids = pathIds(tree, node.id);
    let sum = 0;
    let min = Infinity;
    for (const id of ids) {
      const v = q(tree.nodes[id]!);
      sum += v;
      if (v < min) min = v;
    }
    const base = {
      nodeId: node.id,
      nodeIds: ids,
      steps: ids.map((id) => tree.nodes[id]!.step),
      correct: isCorrect(node),
      failed: node.error !== undefined || node.answer === undefined,
      meanQ: sum / ids.length,
      minQ: min,
    };
    out.push(node.answer !== undefined && node.error === undefined ? { ...base, answer: node.answer } : base);
  }
  return out;
}

/** Orders trajectories best first: mean Q, then min Q, then lower terminal id. */
function byMeanQDesc(a: Trajectory, b: Trajectory): number {
  return b.meanQ - a.meanQ || b.minQ - a.minQ || a.nodeId - b.nodeId;
}

/** The SFT set of one tree: the top `n` correct trajectories by mean Q (ties by min Q). */
export function sftPicks(tree: SearchTree, n = 2): Trajectory[] {
  return trajectories(tree).filter((t) => t.correct).sort(byMeanQDesc).slice(0, n);
}

/** Options of `preferencePairs`. */
export interface PairOptions {
  /** Least Q difference between chosen and rejected step (step pairs only). */
  readonly margin?: number;
  /** Most positives and most negatives taken at each prefix. */
  readonly perSide?: number;
}

/**
 * PPM training pairs. Step pairs: at every expanded node (a shared prefix), up to `perSide`
 * highest-Q children that lead to a correct answer against up to `perSide` lowest-Q children that
 * lead only to wrong answers or failures, kept when Q(chosen) − Q(rejected) ≥ `margin`.
 * Final pairs: up to `perSide` correct solutions with the highest mean Q against up to `perSide`
 * wrong (answered, not failed) solutions with the lowest mean Q, as whole step lists.
 */
export function preferencePairs(tree: SearchTree, options: PairOptions = {}): PreferencePair[] {
  const margin = options.margin ?? 0.5;
  const perSide = options.perSide ?? 2;
  const nodes = tree.nodes;
  const leadsCorrect = new Uint8Array(nodes.length);
  const leadsWrong = new Uint8Array(nodes.length);
  // Children always have larger ids than their parents, so one backward pass aggregates subtrees.
  for (let id = nodes.length - 1; id > 0; id--) {
    const n = nodes[id]!;
    if (n.terminal) {
      if (isCorrect(n)) leadsCorrect[id] = 1;
      else leadsWrong[id] = 1;
    }
    if (leadsCorrect[id]) leadsCorrect[n.parent] = 1;
    if (leadsWrong[id]) leadsWrong[n.parent] = 1;
  }
  const out: PreferencePair[] = [];
  for (const parent of nodes) {
    if (parent.children.length < 2 || !leadsCorrect[parent.id] || !leadsWrong[parent.id]) continue;
    const pos = parent.children.filter((c) => leadsCorrect[c] === 1)
      .sort((a, b) => q(nodes[b]!) - q(nodes[a]!) || a - b).slice(0, perSide);
    const neg = parent.children.filter((c) => leadsWrong[c] === 1 && leadsCorrect[c] === 0)
      .sort((a, b) => q(nodes[a]!) - q(nodes[b]!) || a - b).slice(0, perSide);
    if (pos.length === 0 || neg.length === 0) continue;
    const prefix = pathSteps(tree, parent.id);
    for (const p of pos) {
      for (const n of neg) {
        const qp = q(nodes[p]!);
        const qn = q(nodes[n]!);
        if (qp - qn < margin) continue;
        out.push({ kind: "step", prefix, chosen: [nodes[p]!.step], rejected: [nodes[n]!.step], chosenQ: qp, rejectedQ: qn });
      }
    }
  }
  const all = trajectories(tree);
  const good = all.filter((t) => t.correct).sort(byMeanQDesc).slice(0, perSide);
  const bad = all.filter((t) => !t.correct && !t.failed)
    .sort((a, b) => a.meanQ - b.meanQ || a.minQ - b.minQ || a.nodeId - b.nodeId).slice(0, perSide);
  for (const g of good) {
    for (const b of bad) {
      out.push({ kind: "final", prefix: [], chosen: g.steps, rejected: b.steps, chosenQ: g.meanQ, rejectedQ: b.meanQ });
    }
  }
  return out;
}

/**
 * The answered terminal giving `answer` that ranks first by Q (then visits, then lower id): the
 * end of the path shown for that answer. Undefined when no terminal gives it.
 */
export function bestTerminal(tree: SearchTree, answer: string | undefined): SearchNode | undefined {
  let best: SearchNode | undefined;
  for (const n of tree.nodes) {
    if (!n.terminal || n.answer === undefined || n.error !== undefined || n.answer !== answer) continue;
    if (best === undefined || betterByQ(n, best)) best = n;
  }
  return best;
}

/**
 * The tree's final answer at test time: `q` = the answered terminal with the highest Q;
 * `vote` = the answer given by most answered terminals (ties by summed Q); `ppm` = the answered
 * terminal with the highest PPM value (falling back to Q where no value was given).
 * Undefined when no terminal has an answer.
 */
export function chooseAnswer(tree: SearchTree, by: "q" | "vote" | "ppm"): string | undefined {
  const answered = tree.nodes.filter((n) => n.terminal && n.answer !== undefined && n.error === undefined);
  if (answered.length === 0) return undefined;
  if (by === "q") {
    let best = answered[0]!;
    for (const n of answered) if (betterByQ(n, best)) best = n;
    return best.answer;
  }
  if (by === "ppm") {
    let best = answered[0]!;
    let bestScore = best.value ?? q(best);
    for (const n of answered) {
      const s = n.value ?? q(n);
      if (s > bestScore || (s === bestScore && n.id < best.id)) {
        best = n;
        bestScore = s;
      }
    }
    return best.answer;
  }
  return majority(answered.map((n) => ({ answer: n.answer!, weight: 1, tie: q(n) })));
}

/** The answer with the largest total weight (ties by summed `tie`, then first seen). */
export function majority(
  votes: readonly { readonly answer: string; readonly weight: number; readonly tie: number }[],
): string | undefined {
  const tally = new Map<string, { weight: number; tie: number }>();
  for (const v of votes) {
    const t = tally.get(v.answer) ?? { weight: 0, tie: 0 };
    t.weight += v.weight;
    t.tie += v.tie;
    tally.set(v.answer, t);
  }
  let best: string | undefined;
  let bw = -Infinity;
  let bt = -Infinity;
  for (const [answer, t] of tally) {
    if (t.weight > bw || (t.weight === bw && t.tie > bt)) {
      best = answer;
      bw = t.weight;
      bt = t.tie;
    }
  }
  return best;
}
