import { assert, describe, it } from "vitest";
import type { LedgerEvent } from "../../scripts/run/ledger.ts";
import { buildSummary, formatTable } from "../../scripts/run/summary.ts";
import { renderReport, sampleTreeFromJson } from "../../scripts/run/report.ts";
import { createProgress } from "../../scripts/run/progress.ts";
import { searchedEvent } from "../helpers/ledgerEvents.ts";

function searched(problemId: string, level: number, solved: boolean, phase: "train" | "retry" = "train"): LedgerEvent {
  return searchedEvent(problemId, { level, solved, phase });
}

describe("buildSummary", () => {
  it("counts a solve on retry, and a missing record of a finished round as lost", () => {
    const events: LedgerEvent[] = [
      searched("a", 1, true),
      searched("b", 2, false),
      searched("b", 2, true, "retry"),
      searched("c", 2, false),
      { type: "round-finished", round: 1 },
    ];
    const s = buildSummary({ seed: 1, preset: "smoke", rounds: 1, events, expected: [["a", "b", "c", "d"]] });
    const r = s.rounds[0]!;
    assert.equal(r.train.solved, 2);
    assert.equal(r.train.solvedOnRetry, 1);
    assert.deepEqual(r.train.byLevel["2"], { n: 2, correct: 1, rate: 0.5 });
    // "c" has no retry record and "d" has no record at all.
    assert.equal(s.faults.missingRecords, 2);
    assert.equal(s.lost, 2);
    assert.include(formatTable(s), "lost 2");
  });

  it("counts a second record of the same (round, phase, problem) as a duplicate, once", () => {
    const events = [searched("a", 1, true), searched("a", 1, false), { type: "round-finished", round: 1 } as LedgerEvent];
    const s = buildSummary({ seed: 1, preset: "smoke", rounds: 1, events, expected: [["a"]] });
    assert.equal(s.rounds[0]!.train.problems, 1);
    assert.equal(s.rounds[0]!.train.solved, 1);
    assert.equal(s.lost, 1);
  });
});

describe("formatTable", () => {
  it("shows the rounds an unfinished run has started, not the later ones still to come", () => {
    const events: LedgerEvent[] = [searched("a", 1, true), { type: "round-finished", round: 1 }, searchedEvent("b", { round: 2, solved: false })];
    const s = buildSummary({ seed: 1, preset: "smoke", rounds: 4, events, expected: [["a"], ["b"], ["c"], ["d"]] });
    const rounds = formatTable(s).split("\n").slice(1).filter((l) => /^\s+\d/.test(l)).map((l) => l.trim().split(/\s+/)[0]);
    assert.deepEqual(rounds, ["1", "2*"]);
    const none = buildSummary({ seed: 1, preset: "smoke", rounds: 3, events: [], expected: [] });
    assert.match(formatTable(none).split("\n")[1]!, /^\s+1\*\s/);
  });
});

describe("buildSummary fault counters", () => {
  it("sums the injected-fault counters of every search call, including calls before a resume", () => {
    const events: LedgerEvent[] = [
      searched("a", 1, true),
      { type: "faults-recorded", round: 1, phase: "train", counters: { dropped: 3, retries: 2 } },
      { type: "faults-recorded", round: 1, phase: "retry", counters: { dropped: 1, duplicated: 4 } },
      { type: "round-finished", round: 1 },
    ];
    const s = buildSummary({ seed: 1, preset: "smoke", rounds: 1, events, expected: [["a"]] });
    assert.deepEqual(s.faults.injected, { dropped: 4, retries: 2, duplicated: 4 });
    assert.equal(s.lost, 0);
    assert.include(formatTable(s), "faults: dropped 4, retries 2, duplicated 4");
  });
});

describe("renderReport", () => {
  it("is self-contained and draws Q and N for the sample tree", () => {
    const events = [searched("a", 1, true), { type: "round-finished", round: 1 } as LedgerEvent];
    const s = buildSummary({ seed: 1, preset: "smoke", rounds: 1, events, expected: [["a"]] });
    const tree = sampleTreeFromJson(1, {
      problemId: "a", problem: "2 + 3?", reference: "5",
      nodes: [
        { id: 0, parent: -1, children: [1], N: 4, W: 2, step: { text: "", code: "" } },
        { id: 1, parent: 0, children: [], N: 4, W: 2, terminal: true, answer: "5", step: { text: "add", code: "print(2 + 3)" } },
      ],
    });
    const html = renderReport(s, tree);
    assert.notMatch(html, /(src|href)=["']?https?:/);
    assert.notInclude(html, "<script");
    assert.include(html, ">0.50<");
    assert.include(html, "print(2 + 3)");
  });

  it("colours a terminal by its grade: a right answer no rollout visited is green, a visited wrong one red", () => {
    const events = [searched("a", 1, true), { type: "round-finished", round: 1 } as LedgerEvent];
    const s = buildSummary({ seed: 1, preset: "smoke", rounds: 1, events, expected: [["a"]] });
    const fills = (nodes: object[]) =>
      [...renderReport(s, sampleTreeFromJson(1, { problemId: "a", problem: "2 + 3?", nodes })).matchAll(/<circle[^>]*r="18" fill="([^"]+)"/g)]
        .map((m) => m[1]);
    const root = { id: 0, parent: -1, children: [1, 2], N: 2, W: 0, step: { text: "", code: "" } };
    const right = { id: 1, parent: 0, children: [], N: 0, W: 0, terminal: true, answer: "5", reward: 1, step: { text: "add", code: "print(2 + 3)" } };
    const wrong = { id: 2, parent: 0, children: [], N: 2, W: -2, terminal: true, answer: "6", reward: -1, step: { text: "add", code: "print(2 + 4)" } };
    assert.deepEqual(fills([root, right, wrong]).sort(), ["#7bc67b", "#9ecae1", "#e57373"], "blue, green and red, one each");
  });
});

describe("formatTable", () => {
  const header = (levels: number[], testLevel: number) => {
    const events: LedgerEvent[] = levels.map((l, i) => searched(`p${i}`, l, true));
    events.push({ type: "evaluation-done", round: 1, strategy: "mcts", samples: 1, byLevel: { [testLevel]: { n: 1, correct: 1 } }, accuracy: 1, tokens: 1, wallMs: 1, versions: { policy: "p1" } });
    events.push({ type: "round-finished", round: 1 } as LedgerEvent);
    const s = buildSummary({ seed: 1, preset: "quick", rounds: 1, events, expected: [levels.map((_, i) => `p${i}`)] });
    return formatTable(s).split("\n")[0]!.trim().split(/\s+/);
  };

  it("shows a column per level, and level 5's MCTS accuracy where level 5 is tested", () => {
    assert.deepEqual(header([1, 5], 5).slice(0, 4), ["round", "solve%", "L1%", "L5%"]);
    assert.include(header([1, 5], 5), "mcts-L5");
  });

  it("shows no level columns for a dataset without levels, and problems without a level as L?", () => {
    const unlevelled = header([0, 0], 0);
    assert.deepEqual(unlevelled.slice(0, 3), ["round", "solve%", "sft"]);
    assert.notInclude(unlevelled, "mcts-L5");
    assert.deepEqual(header([0, 3], 3).slice(2, 4), ["L?%", "L3%"]);
  });
});

describe("renderReport legends", () => {
  it("names only the strategies the run evaluated, each in its own colour whatever else ran", () => {
    const evaluated = (strategies: string[]) => {
      const events: LedgerEvent[] = [searched("a", 1, true)];
      for (const strategy of strategies) {
        events.push({ type: "evaluation-done", round: 1, strategy, samples: 1, byLevel: { "1": { n: 1, correct: 1 } }, accuracy: 1, tokens: 1, wallMs: 1, versions: { policy: "p1" } });
      }
      events.push({ type: "round-finished", round: 1 } as LedgerEvent);
      const html = renderReport(buildSummary({ seed: 1, preset: "smoke", rounds: 1, events, expected: [["a"]] }));
      const chart = html.slice(html.indexOf("Test accuracy per round"), html.indexOf("Training solve rate"));
      return [...chart.matchAll(/<rect [^>]*fill="([^"]+)"\/><text [^>]*>([^<]+)<\/text>/g)].map((m) => `${m[2]} ${m[1]}`);
    };
    const all = evaluated(["greedy", "bon-vote", "bon-ppm", "mcts"]);
    assert.equal(all.length, 4);
    assert.deepEqual(evaluated(["greedy", "bon-vote"]), all.slice(0, 2));
    assert.deepEqual(evaluated(["mcts"]), [all[3]]);
    assert.deepEqual(evaluated([]), []);
  });
});

describe("createProgress", () => {
  it("off a terminal, writes plain lines: each event, and a phase's start, first unit, progress at most every 10 s, and end", () => {
    const out: string[] = [];
    let t = 0;
    const p = createProgress({ write: (s) => out.push(s), isTTY: false, now: () => t });
    const ph = p.phase("search", 40, "problems");
    for (let i = 0; i < 40; i++) {
      t += 500; // 20 s in all: the first unit, then one line 10 s later
      ph.tick(1, `solved ${i + 1}`);
    }
    ph.done();
    p.event("hello");
    assert.deepEqual(out, [
      "search: start (40 problems)\n",
      "search: 1/40 2.00 problems/s eta 20s solved 1\n",
      "search: 21/40 2.00 problems/s eta 10s solved 21\n",
      "search: done 40/40 in 20s\n",
      "hello\n",
    ]);
  });
});
