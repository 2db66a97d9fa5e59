import { assert, describe, it } from "vitest";
import { chooseAnswer, preferencePairs, sftPicks, trajectories } from "../../search/extract.ts";
import { createTree } from "../../search/SearchTree.ts";
import type { SearchNode, SearchTree } from "../../search/types.ts";

interface Spec {
  name: string;
  parent: string;
  N: number;
  W: number;
  terminal?: "correct" | "wrong" | "error";
  answer?: string;
  value?: number;
}

/** Builds a tree by hand with exact statistics (names become step codes). */
function handTree(specs: Spec[]): { tree: SearchTree; id: (name: string) => number } {
  const tree = createTree({ id: "h", problem: "hand-built" }, {}, 1);
  const ids = new Map<string, number>([["root", 0]]);
  for (const s of specs) {
    const parent = tree.nodes[ids.get(s.parent)!]!;
    const id = tree.nodes.length;
    const node: SearchNode = {
      id,
      parent: parent.id,
      depth: parent.depth + 1,
      children: [],
      step: { text: s.name, code: s.name },
      stdout: "",
      ...(s.terminal === "error" ? { error: { kind: "NameError" as const, message: "x", line: 1 } } : {}),
      terminal: s.terminal !== undefined,
      ...(s.terminal === "correct" || s.terminal === "wrong" ? { answer: s.answer ?? (s.terminal === "correct" ? "42" : "7") } : {}),
      reward: s.terminal === "correct" ? 1 : s.terminal === undefined ? 0 : -1,
      N: s.N,
      W: s.W,
      prior: 1,
      ...(s.value !== undefined ? { value: s.value } : {}),
      seeded: false,
      inFlight: 0,
      expanded: s.terminal === undefined,
      pending: -1,
      logprob: 0,
    };
    tree.nodes.push(node);
    parent.children.push(id);
    ids.set(s.name, id);
  }
  return { tree, id: (name) => ids.get(name)! };
}

// Q values: X 0.8, A 0.6, B 0.2, E −0.1, C −1, D −1 (failed step).
const specs: Spec[] = [
  { name: "X", parent: "root", N: 5, W: 4 },
  { name: "A", parent: "root", N: 5, W: 3 },
  { name: "B", parent: "root", N: 5, W: 1 },
  { name: "C", parent: "root", N: 2, W: -2 },
  { name: "D", parent: "root", N: 1, W: -1, terminal: "error" },
  { name: "E", parent: "root", N: 10, W: -1 },
  { name: "X1", parent: "X", N: 5, W: 4, terminal: "correct", value: 0.1 },
  { name: "A1", parent: "A", N: 4, W: 4, terminal: "correct", value: 0.9 },
  { name: "A2", parent: "A", N: 1, W: -1, terminal: "wrong", answer: "8", value: 0.95 },
  { name: "B1", parent: "B", N: 5, W: 1, terminal: "correct", answer: "42" },
  { name: "C1", parent: "C", N: 2, W: -2, terminal: "wrong" },
  { name: "E1", parent: "E", N: 10, W: -10, terminal: "wrong" },
];

const codes = (steps: { code: string }[]) => steps.map((s) => s.code).join(">");

describe("extraction", () => {
  it("trajectories() lists every root-to-terminal path with mean and min Q", () => {
    const { tree } = handTree(specs);
    const ts = trajectories(tree);
    assert.deepEqual(ts.map((t) => codes(t.steps)), ["D", "X>X1", "A>A1", "A>A2", "B>B1", "C>C1", "E>E1"]);
    const a1 = ts.find((t) => codes(t.steps) === "A>A1")!;
    assert.closeTo(a1.meanQ, 0.8, 1e-12);
    assert.closeTo(a1.minQ, 0.6, 1e-12);
    assert.isTrue(a1.correct);
    const d = ts.find((t) => codes(t.steps) === "D")!;
    assert.isTrue(d.failed);
    assert.isFalse(d.correct);
  });

  it("sftPicks() takes the top 2 correct trajectories by mean Q, ties broken by min Q", () => {
    const { tree } = handTree(specs);
    // X>X1 and A>A1 both have mean Q 0.8; X>X1 has the higher min Q (0.8 vs 0.6).
    assert.deepEqual(sftPicks(tree).map((t) => codes(t.steps)), ["X>X1", "A>A1"]);
    assert.deepEqual(sftPicks(tree, 3).map((t) => codes(t.steps)), ["X>X1", "A>A1", "B>B1"]);
  });

  it("preferencePairs() pairs the best correct-leading steps against the worst wrong-leading ones", () => {
    const { tree } = handTree(specs);
    const pairs = preferencePairs(tree);
    const steps = pairs.filter((p) => p.kind === "step").map((p) => `${codes(p.prefix)}|${codes(p.chosen)}>${codes(p.rejected)}`);
    // Root: positives X (0.8), A (0.6); negatives C (−1), D (−1). At A: A1 vs A2.
    assert.deepEqual(steps, ["|X>C", "|X>D", "|A>C", "|A>D", "A|A1>A2"]);
    const finals = pairs.filter((p) => p.kind === "final").map((p) => `${codes(p.chosen)}>${codes(p.rejected)}`);
    // Best correct: X>X1, A>A1; worst wrong answered (not failed): C>C1 (−1), E>E1 (−0.55).
    assert.deepEqual(finals, ["X>X1>C>C1", "X>X1>E>E1", "A>A1>C>C1", "A>A1>E>E1"]);
  });

  it("preferencePairs() drops step pairs whose Q margin is below the threshold", () => {
    const { tree } = handTree(specs);
    const steps = preferencePairs(tree, { perSide: 3 }).filter((p) => p.kind === "step" && p.prefix.length === 0)
      .map((p) => `${codes(p.chosen)}>${codes(p.rejected)}`);
    // B (0.2) vs E (−0.1) has margin 0.3 < 0.5 and is dropped; A vs E (0.7) stays.
    assert.deepEqual(steps, ["X>C", "X>D", "X>E", "A>C", "A>D", "A>E", "B>C", "B>D"]);
    const loose = preferencePairs(tree, { perSide: 3, margin: 0.25 }).filter((p) => p.kind === "step");
    assert.isTrue(loose.some((p) => codes(p.chosen) === "B" && codes(p.rejected) === "E"));
  });

  it("chooseAnswer() picks by Q, by vote or by PPM value", () => {
    const { tree } = handTree(specs);
    assert.equal(chooseAnswer(tree, "q"), "42");
    assert.equal(chooseAnswer(tree, "ppm"), "8");
    assert.equal(chooseAnswer(tree, "vote"), "42");
    assert.isUndefined(chooseAnswer(createTree({ id: "e", problem: "x" }, {}, 1), "q"));
  });
});
