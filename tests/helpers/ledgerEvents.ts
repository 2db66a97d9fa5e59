/** Ledger events for tests that build a ledger by hand. */
import type { LedgerEvent } from "../../scripts/run/ledger.ts";

type Searched = Extract<LedgerEvent, { type: "problem-searched" }>;

/** A `problem-searched` record of a level-1 problem solved in round 1's first pass, unless `over` says otherwise. */
export function searchedEvent(
  problemId: string,
  over: Partial<Omit<Searched, "type" | "problemId">> = {},
): Searched {
  const solved = over.solved ?? true;
  return {
    type: "problem-searched",
    round: 1,
    phase: "train",
    problemId,
    level: 1,
    solved,
    rollouts: 4,
    tokens: 10,
    wallMs: 1,
    trajectories: { total: 2, correct: solved ? 1 : 0 },
    sft: [],
    pairs: [],
    versions: { policy: "bootstrap" },
    ...over,
  };
}
