/**
 * `rstar evolve --chaos`: a smoke round under 10% dropped, 5% duplicated and 0–100 ms delayed
 * messages completes, and its problem accounting equals the fault-free run's with the same seed.
 */
import { assert, describe, it } from "vitest";
import { join } from "node:path";

const deno = join(Deno.cwd(), "node_modules", ".bin", "deno");
const env = { DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.cwd(), ".cache", "deno") };

async function evolve(runDir: string, extra: string[]): Promise<void> {
  const out = await new Deno.Command(deno, {
    args: [
      "run", "-A", "--quiet", "scripts/rstar.ts", "evolve",
      "--preset", "smoke", "--rounds", "1", "--seed", "5", "--run", runDir, ...extra,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr).slice(-2000));
}

/** The (round, phase, problem) keys the ledger recorded, sorted. */
async function searchedKeys(runDir: string): Promise<string[]> {
  const lines = (await Deno.readTextFile(join(runDir, "ledger.jsonl"))).split("\n").filter((l) => l.length > 0);
  return lines.map((l) => JSON.parse(l)).filter((e) => e.type === "problem-searched")
    .map((e) => `${e.round}:${e.phase}:${e.problemId}`).sort();
}

describe("rstar evolve --chaos", () => {
  it("loses nothing under drops, duplicates and delays, and records what it injected", async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-evolve-chaos-" });
    try {
      const clean = join(root, "clean");
      const chaos = join(root, "chaos");
      await evolve(clean, []);
      await evolve(chaos, ["--chaos", "drop=0.1,dup=0.05,delay=0-100ms"]);
      const a = JSON.parse(await Deno.readTextFile(join(clean, "summary.json")));
      const b = JSON.parse(await Deno.readTextFile(join(chaos, "summary.json")));
      assert.equal(b.lost, 0);
      assert.equal(b.rounds[0].train.problems, a.rounds[0].train.problems);
      // Every problem searched in the first pass is recorded exactly once, as without faults.
      const firstPass = (keys: string[]) => keys.filter((k) => k.includes(":train:"));
      assert.deepEqual(firstPass(await searchedKeys(chaos)), firstPass(await searchedKeys(clean)));
      const injected = b.faults.injected;
      assert.isAbove(injected.dropped, 0);
      assert.isAbove(injected.duplicated, 0);
      assert.isAbove(injected.retries, 0, "dropped requests were retried");
      assert.deepEqual(a.faults.injected, {});
    } finally {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 240_000);
});
