import { assert, describe, it } from "vitest";
import { join } from "node:path";
import type { LedgerEvent } from "../../scripts/run/ledger.ts";
import { PRESET_CONFIGS } from "../../scripts/run/config.ts";
import { runPaths } from "../../scripts/run/runDirectory.ts";
import { formatRoundStatus, runStatus } from "../../scripts/run/status.ts";

const config = { ...PRESET_CONFIGS.smoke, rounds: 2 };

function searched(round: number, problemId: string): LedgerEvent {
  return {
    type: "problem-searched",
    round,
    phase: "train",
    problemId,
    level: 1,
    solved: true,
    rollouts: 4,
    tokens: 10,
    wallMs: 1,
    trajectories: { total: 2, correct: 1 },
    sft: [],
    pairs: [],
    versions: { policy: "bootstrap" },
  };
}

const trained: LedgerEvent = {
  type: "round-trained",
  round: 1,
  losses: { policy: [1], ppm: [1] },
  versions: { policy: "p1", scorer: "s1" },
  checkpoints: { policy: "checkpoints/round-1/policy", ppm: "checkpoints/round-1/ppm" },
  tokens: 1,
  wallMs: 1,
};

describe("runStatus", () => {
  it("reports the round in progress's training with the same shape before and after it is done", () => {
    const root = Deno.makeTempDirSync({ prefix: "rstar-status-" });
    try {
      const status = (events: LedgerEvent[]) =>
        runStatus(runPaths(join(root, "run")), config, events, [["a"], ["b"]], ["t"]);
      const before = status([searched(1, "a")]).current!;
      assert.deepEqual(before.training, { done: false }, "nothing trained and no state saved");
      assert.include(formatRoundStatus(before), "training: no state saved");
      const after = status([searched(1, "a"), trained]).current!;
      assert.deepEqual(after.training, { done: true });
      assert.include(formatRoundStatus(after), "training: done");
    } finally {
      Deno.removeSync(root, { recursive: true });
    }
  });
});
