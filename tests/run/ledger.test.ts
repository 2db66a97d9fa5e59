import { assert, describe, it } from "vitest";
import { foldEvent, Ledger, type LedgerEvent, readLedger, replay } from "../../scripts/run/ledger.ts";
import { join } from "node:path";
import { searchedEvent } from "../helpers/ledgerEvents.ts";

const started: LedgerEvent = { type: "run-started", ts: "2025-01-01T00:00:00.000Z", seed: 1, preset: "smoke", resumed: false };

function searched(problemId: string, round = 1): LedgerEvent {
  return searchedEvent(problemId, { round, answer: "3", trajectories: { total: 1, correct: 1 } });
}

function open(file: string): Ledger {
  const l = Ledger.open(file);
  if (!(l instanceof Ledger)) throw new Error(l.message);
  return l;
}

describe("Ledger", () => {
  it("replays appended events in order after reopening", () => {
    const file = join(Deno.makeTempDirSync(), "ledger.jsonl");
    const a = open(file);
    a.append(started);
    a.append(searched("p1"));
    a.close();
    const b = open(file);
    assert.deepEqual(b.events, [started, searched("p1")]);
    assert.isFalse(b.recoveredTornTail);
    b.close();
  });

  it("drops a torn last line silently and truncates it before the next append", () => {
    const file = join(Deno.makeTempDirSync(), "ledger.jsonl");
    const a = open(file);
    a.append(started);
    a.append(searched("p1"));
    a.close();
    const whole = JSON.stringify(searched("p2")) + "\n";
    Deno.writeTextFileSync(file, whole.slice(0, whole.length / 2), { append: true });
    const b = open(file);
    assert.isTrue(b.recoveredTornTail);
    assert.equal(b.events.length, 2);
    b.append(searched("p3"));
    b.close();
    const text = Deno.readTextFileSync(file);
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, 3);
    assert.equal(JSON.parse(lines[2]!).problemId, "p3");
  });

  it("reports a corrupt line other than a torn tail with the file and line number", () => {
    const file = join(Deno.makeTempDirSync(), "ledger.jsonl");
    Deno.writeTextFileSync(file, [JSON.stringify(started), "{not json", JSON.stringify(searched("p1"))].join("\n") + "\n");
    const r = Ledger.open(file);
    assert.isFalse(r instanceof Ledger);
    if (r instanceof Ledger) return;
    assert.equal(r._tag, "LedgerCorrupt");
    assert.equal(r.line, 2);
    assert.include(r.message, `${file}:2`);
  });

  it("rejects a complete last line that is not a known event", () => {
    const file = join(Deno.makeTempDirSync(), "ledger.jsonl");
    Deno.writeTextFileSync(file, JSON.stringify(started) + "\n" + JSON.stringify({ type: "mystery", round: 1 }) + "\n");
    const r = readLedger(file);
    assert.equal(r._tag, "LedgerCorrupt");
    if (r._tag === "LedgerCorrupt") assert.include(r.reason, "mystery");
  });

  it("rejects a known event that lacks a field its readers need, naming the line and the field", () => {
    const file = join(Deno.makeTempDirSync(), "ledger.jsonl");
    const { sft: _, ...noPicks } = searched("p2") as Extract<LedgerEvent, { type: "problem-searched" }>;
    for (
      const [bad, why] of [
        [{ type: "evaluation-done", round: 1 }, "evaluation-done event has no strategy (a string)"],
        [{ ...noPicks }, "problem-searched event has no sft (an array)"],
        [{ ...searched("p2"), tokens: "10" }, "problem-searched event has no tokens (a number)"],
        [{ type: "round-finished", round: 0 }, `event "round-finished" has no round (a whole number from 1)`],
        [{ type: "search-done", round: 1, phase: "later", wallMs: 3 }, "search-done event has a bad phase"],
      ] as const
    ) {
      Deno.writeTextFileSync(file, [started, searched("p1"), bad, searched("p3")].map((e) => JSON.stringify(e)).join("\n") + "\n");
      const r = readLedger(file);
      assert.equal(r._tag, "LedgerCorrupt", JSON.stringify(bad));
      if (r._tag === "LedgerCorrupt") assert.equal(r.message, `Cannot read ledger ${file}:3: ${why}`);
    }
  });

  it("replay() never counts a (round, problem) twice", () => {
    const state = replay([started, searched("p1"), searched("p1"), searched("p1", 2)]);
    assert.equal(state.searched.size, 2);
    assert.equal(state.duplicates, 1);
  });

  it("folding events one at a time gives the state a replay of all of them gives", () => {
    const events: LedgerEvent[] = [
      started,
      searched("p1"),
      searched("p1"),
      { type: "faults-recorded", round: 1, phase: "train", counters: { drop: 2 } },
      { type: "search-done", round: 1, phase: "train", wallMs: 40 },
      { type: "faults-recorded", round: 1, phase: "train", counters: { drop: 1, dup: 3 } },
      { type: "search-done", round: 1, phase: "train", wallMs: 2 },
      { type: "round-finished", round: 1 },
      { ...started, resumed: true },
      searched("p2", 2),
      { type: "run-finished", ts: "2025-01-01T00:01:00.000Z" },
    ];
    let state = replay([]);
    for (const e of events) state = foldEvent(state, e);
    assert.deepEqual(state, replay(events));
    assert.equal(state.starts, 2);
    assert.equal(state.duplicates, 1);
    assert.deepEqual(state.injected, { drop: 3, dup: 3 });
    assert.equal(state.searchWallMs.get(1), 42);
    assert.isTrue(state.finished);
  });
});
