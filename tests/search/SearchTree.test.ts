import { assert, describe, it } from "vitest";
import { Prng } from "../../math/prng.ts";
import { abandon, ask, createTree, isDone, pathSteps, q, stats, tell } from "../../search/SearchTree.ts";
import type { Ask, Candidate, SearchConfig, SearchTree } from "../../search/types.ts";

const problem = { id: "p1", problem: "What is 6 times 7?", answer: "42" };

/** Random candidates: some duplicates, failures, answers with ±1 rewards, PPM values. */
function randomCandidates(rng: Prng): Candidate[] {
  const n = rng.float() < 0.1 ? 0 : 1 + rng.int(4);
  const out: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    const code = `x = ${rng.int(6)}`;
    const r = rng.float();
    const value = rng.float() * 2 - 1;
    if (r < 0.15) {
      out.push({ step: { text: "fail", code: `bad${rng.int(3)}` }, stdout: "", error: { kind: "NameError", message: "x", line: 1 }, terminal: true, logprob: -1 });
    } else if (r < 0.45) {
      const ans = String(rng.int(3));
      out.push({ step: { text: "answer", code: `print(${ans})` }, stdout: `${ans}\n`, terminal: true, answer: ans, reward: ans === "1" ? 1 : -1, logprob: -0.5, value });
    } else {
      out.push({ step: { text: "assign", code }, stdout: "", terminal: false, logprob: -rng.float(), value });
    }
  }
  return out;
}

/** Checks N/W consistency, Q range, virtual-loss accounting and pending marks. */
function checkInvariants(tree: SearchTree): void {
  const nodes = tree.nodes;
  const expectFlight = new Array<number>(nodes.length).fill(0);
  const pendingOf = new Map<number, number>();
  for (const t of tree.trials) {
    pendingOf.set(t.nodeId, t.id);
    for (let id = t.nodeId; id >= 0; id = nodes[id]!.parent) expectFlight[id]!++;
  }
  for (const n of nodes) {
    assert.equal(n.inFlight, expectFlight[n.id], `inFlight of node ${n.id}`);
    assert.equal(n.pending, pendingOf.get(n.id) ?? -1, `pending mark of node ${n.id}`);
    if (n.N > 0) {
      const v = q(n);
      assert.isAtLeast(v, -1 - 1e-9);
      assert.isAtMost(v, 1 + 1e-9);
    }
    const seedN = n.seeded ? 1 : 0;
    const seedW = n.seeded ? n.value! : 0;
    if (n.children.length > 0) {
      let sn = 0;
      let sw = 0;
      for (const c of n.children) {
        const ch = nodes[c]!;
        sn += ch.N - (ch.seeded ? 1 : 0);
        sw += ch.W - (ch.seeded ? ch.value! : 0);
      }
      assert.equal(n.N - seedN, sn, `N of node ${n.id} = sum over children`);
      assert.closeTo(n.W - seedW, sw, 1e-9, `W of node ${n.id} = sum over children`);
    } else if (n.terminal) {
      assert.closeTo(n.W - seedW, (n.N - seedN) * n.reward, 1e-9, `W of terminal ${n.id}`);
    } else {
      assert.equal(n.N, seedN, `unexpanded node ${n.id} has only its pseudo-visit`);
    }
  }
  assert.equal(nodes[0]!.N, tree.rolloutsDone, "root visits = rollouts done");
}

/** Drives a tree with random ask/tell/abandon/duplicate-tell steps, checking invariants each time. */
function randomRun(tree: SearchTree, rng: Prng, steps: number, open: Ask[], told: number[]): void {
  for (let s = 0; s < steps; s++) {
    const r = rng.float();
    if (r < 0.35 || open.length === 0) {
      const { asks } = ask(tree, 1 + rng.int(3));
      const pendingNodes = new Set(open.map((a) => a.nodeId));
      for (const a of asks) {
        assert.isFalse(pendingNodes.has(a.nodeId), "ask() returned a node with a pending expansion");
        pendingNodes.add(a.nodeId);
        open.push(a);
      }
    } else if (r < 0.85) {
      const a = open.splice(rng.int(open.length), 1)[0]!;
      tell(tree, a.trialId, randomCandidates(rng));
      told.push(a.trialId);
    } else if (r < 0.93) {
      const a = open.splice(rng.int(open.length), 1)[0]!;
      abandon(tree, a.trialId);
    } else if (told.length > 0) {
      const before = JSON.stringify(tree);
      tell(tree, rng.pick(told), randomCandidates(rng));
      assert.equal(JSON.stringify(tree), before, "a repeated tell changed the tree");
    }
    checkInvariants(tree);
  }
}

/** Tells every open ask (and every continuation) until the tree is done. */
function drain(tree: SearchTree, rng: Prng, open: Ask[]): void {
  for (let guard = 0; guard < 10_000; guard++) {
    const { asks } = ask(tree, 4);
    open.push(...asks);
    if (open.length === 0) break;
    const a = open.splice(rng.int(open.length), 1)[0]!;
    tell(tree, a.trialId, randomCandidates(rng));
    checkInvariants(tree);
  }
}

const configs: Partial<SearchConfig>[] = [
  { rollouts: 40, k: 4, maxDepth: 4 },
  { rollouts: 40, k: 4, maxDepth: 5, selection: "puct", ppmSeed: true },
  { rollouts: 10, hard: true, hardMultiplier: 3, maxDepth: 3, ppmSeed: true, virtualLoss: 2 },
];

describe("SearchTree ask/tell", () => {
  it("keeps visit counts, value sums and virtual loss consistent under random interleavings", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const tree = createTree(problem, configs[seed % configs.length]!, seed);
      const rng = Prng.fromSeed(seed * 7919);
      const open: Ask[] = [];
      randomRun(tree, rng, 150, open, []);
      drain(tree, rng, open);
      assert.isTrue(isDone(tree), `seed ${seed}: search finished`);
      for (const n of tree.nodes) assert.equal(n.inFlight, 0, "virtual loss back to zero");
      assert.equal(tree.rolloutsDone, tree.rolloutsStarted);
    }
  });

  it("continues identically after a JSON round trip", () => {
    for (let seed = 1; seed <= 4; seed++) {
      const tree = createTree(problem, configs[seed % configs.length]!, seed);
      const rng = Prng.fromSeed(seed);
      const open: Ask[] = [];
      randomRun(tree, rng, 60, open, []);
      const copy: SearchTree = JSON.parse(JSON.stringify(tree));
      const openCopy: Ask[] = JSON.parse(JSON.stringify(open));
      const rngCopy = Prng.fromState(rng.state());
      randomRun(tree, rng, 60, open, []);
      drain(tree, rng, open);
      randomRun(copy, rngCopy, 60, openCopy, []);
      drain(copy, rngCopy, openCopy);
      assert.equal(JSON.stringify(copy), JSON.stringify(tree));
    }
  });

  it("gives the same tree for the same seed and candidates", () => {
    const run = (seed: number) => {
      const tree = createTree(problem, { rollouts: 30, k: 4, maxDepth: 4 }, seed);
      const rng = Prng.fromSeed(99);
      const open: Ask[] = [];
      randomRun(tree, rng, 100, open, []);
      drain(tree, rng, open);
      return JSON.stringify(tree);
    };
    assert.equal(run(5), run(5));
    assert.notEqual(run(5), run(6));
  });

  it("ask() never hands out a node twice while its expansion is pending", () => {
    const tree = createTree(problem, { rollouts: 100, k: 3 }, 1);
    const first = ask(tree, 5).asks;
    assert.equal(first.length, 1, "only the root is expandable at first");
    assert.deepEqual(ask(tree, 5).asks, [], "everything is in flight");
    const cands: Candidate[] = ["a = 1", "a = 2", "a = 3"].map((code) => ({ step: { text: code, code }, stdout: "", terminal: false, logprob: 0 }));
    tell(tree, first[0]!.trialId, cands);
    const next = ask(tree, 10).asks;
    const ids = next.map((a) => a.nodeId);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(ids.length, 3, "the continuation plus the two other fresh children");
    for (const a of next) assert.deepEqual(a.steps, pathSteps(tree, a.nodeId));
  });

  it("tell() merges exact duplicates and turns failures and deep steps into −1 terminals", () => {
    const tree = createTree(problem, { rollouts: 4, k: 4, maxDepth: 1 }, 3);
    const [a] = ask(tree, 1).asks;
    tell(tree, a!.trialId, [
      { step: { text: "one", code: "a = 1" }, stdout: "", terminal: false, logprob: 0 },
      { step: { text: "one again", code: "a = 1" }, stdout: "", terminal: false, logprob: 0 },
      { step: { text: "fail", code: "a = 1/0" }, stdout: "", error: { kind: "ZeroDivisionError", message: "division by zero", line: 1 }, terminal: false, logprob: 0 },
    ]);
    const kids = tree.nodes[0]!.children.map((c) => tree.nodes[c]!);
    assert.equal(kids.length, 2);
    assert.isTrue(kids.every((k) => k.terminal && k.reward === -1), "depth limit and failure give −1 terminals");
    assert.equal(tree.rolloutsDone, 1);
    assert.equal(tree.nodes[0]!.W, -1);
  });

  it("tell() seeds a new child with one pseudo-visit worth its PPM value when ppmSeed is on", () => {
    const tree = createTree(problem, { rollouts: 4, k: 2, ppmSeed: true }, 3);
    const [a] = ask(tree, 1).asks;
    tell(tree, a!.trialId, [
      { step: { text: "a", code: "a = 1" }, stdout: "", terminal: false, logprob: 0, value: 0.5 },
      { step: { text: "b", code: "b = 1" }, stdout: "", terminal: false, logprob: 0, value: -0.25 },
    ]);
    const kids = tree.nodes[0]!.children.map((c) => tree.nodes[c]!);
    assert.deepEqual(kids.map((k) => [k.N, k.W]), [[1, 0.5], [1, -0.25]]);
    assert.equal(tree.trials.length, 1, "the rollout continues in the higher-valued child");
    assert.equal(tree.trials[0]!.nodeId, kids[0]!.id);
  });

  it("abandon() releases virtual loss and returns the rollout to the budget", () => {
    const tree = createTree(problem, { rollouts: 1 }, 1);
    const [a] = ask(tree, 1).asks;
    assert.equal(tree.nodes[0]!.inFlight, 1);
    abandon(tree, a!.trialId);
    assert.equal(tree.nodes[0]!.inFlight, 0);
    assert.equal(tree.nodes[0]!.pending, -1);
    assert.isFalse(isDone(tree));
    const again = ask(tree, 1).asks;
    assert.equal(again.length, 1);
    tell(tree, a!.trialId, []);
    assert.equal(tree.trials.length, 1, "a tell for the abandoned trial is ignored");
  });

  it("stops starting rollouts once enough correct terminals exist", () => {
    const tree = createTree(problem, { rollouts: 50, stopAfterCorrect: 1 }, 1);
    const [a] = ask(tree, 1).asks;
    tell(tree, a!.trialId, [{ step: { text: "answer", code: "print(42)" }, stdout: "42\n", terminal: true, answer: "42", reward: 1, logprob: 0 }]);
    assert.isTrue(isDone(tree));
    assert.deepEqual(ask(tree, 3).asks, []);
    const s = stats(tree);
    assert.isTrue(s.solved);
    assert.equal(s.bestAnswer, "42");
  });
});
