import { assert, describe, it } from "vitest";
import { join } from "node:path";
import type { LedgerEvent } from "../../scripts/run/ledger.ts";
import { PRESET_CONFIGS } from "../../scripts/run/config.ts";
import { runPaths } from "../../scripts/run/runDirectory.ts";
import { formatRoundStatus, runStatus } from "../../scripts/run/status.ts";
import { searchedEvent } from "../helpers/ledgerEvents.ts";

const config = { ...PRESET_CONFIGS.smoke, rounds: 2 };

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
      const searching = runStatus(
        runPaths(join(root, "run")),
        config,
        [searchedEvent("a", { solved: false })],
        [["a", "b"], ["c"]],
        ["t"],
      );
      assert.include(
        formatRoundStatus(searching.current!),
        "search 1/2, retry after the search (1 unsolved so far);",
      );
      const before = status([searchedEvent("a")]).current!;
      assert.include(formatRoundStatus(before), "search 1/1, retry 0/0;");
      assert.deepEqual(before.training, { done: false }, "nothing trained and no state saved");
      assert.include(formatRoundStatus(before), "training: no state saved");
      const after = status([searchedEvent("a"), trained]).current!;
      assert.deepEqual(after.training, { done: true });
      assert.include(formatRoundStatus(after), "training: done");
      assert.isUndefined(status([searchedEvent("a")]).knobs, "no knob set, none reported");
      const knobs = status([
        searchedEvent("a"),
        { type: "knob-set", round: 1, key: "rollouts", value: 32 },
        { type: "knob-set", round: 1, key: "rollouts", value: 48 },
        { type: "knob-set", round: 1, key: "k", value: 6 },
      ]);
      assert.deepEqual(knobs.knobs, { rollouts: 48, k: 6 }, "the last value of each knob");
    } finally {
      Deno.removeSync(root, { recursive: true });
    }
  });
});
