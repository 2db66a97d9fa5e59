/**
 * `rstar evolve --chaos`: a smoke round under 10% dropped, 5% duplicated and 0–100 ms delayed
 * messages completes, in one process and over NATS with 2 worker processes, and records exactly
 * what the fault-free in-process run with the same seed records for every problem (same keys, same
 * outcomes, same training picks). One clean run serves both comparisons; the three runs go side
 * by side (the chaos runs mostly wait on request deadlines). NATS at `RSTAR_NATS_URL` (default
 * 127.0.0.1:4222).
 */
import { assert, beforeAll, describe, it } from "vitest";
import { join } from "node:path";
import { deno, env, natsUrl as url, removeRunStore, workerPids } from "../helpers/evolveProcess.ts";

const CHAOS = "drop=0.1,dup=0.05,delay=0-100ms";

interface Finished {
  readonly runDir: string;
  readonly wallS: number;
}

async function evolve(runDir: string, extra: string[]): Promise<Finished> {
  const t0 = performance.now();
  const out = await new Deno.Command(deno, {
    args: [
      "run", "-A", "--quiet", "scripts/rstar.ts", "evolve",
      "--preset", "smoke", "--rounds", "1", "--seed", "5", "--run", runDir, ...extra,
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr).slice(-2000));
  return { runDir, wallS: (performance.now() - t0) / 1000 };
}

/**
 * Each `problem-searched` record by (round, phase, problem) key, without its wall time; fails on
 * a key recorded twice.
 */
async function outcomes(runDir: string): Promise<Map<string, string>> {
  const text = await Deno.readTextFile(join(runDir, "ledger.jsonl"));
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.length === 0) continue;
    const e = JSON.parse(line);
    if (e.type !== "problem-searched") continue;
    const key = `${e.round}:${e.phase}:${e.problemId}`;
    assert.isFalse(out.has(key), `${key} is recorded once`);
    delete e.wallMs;
    out.set(key, JSON.stringify(e));
  }
  return out;
}

async function summary(runDir: string) {
  return JSON.parse(await Deno.readTextFile(join(runDir, "summary.json")));
}

/** Checks a chaos run against the clean run: same records, nothing lost, faults recorded. */
async function assertSameAsClean(clean: Finished, chaos: Finished): Promise<void> {
  const a = await summary(clean.runDir);
  const b = await summary(chaos.runDir);
  assert.isTrue(b.finished);
  assert.equal(b.lost, 0);
  assert.equal(b.faults.duplicateRecords, 0);
  assert.equal(b.faults.missingRecords, 0);
  assert.deepEqual(b.rounds[0].train, a.rounds[0].train);
  const want = await outcomes(clean.runDir);
  const got = await outcomes(chaos.runDir);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), "the same (round, phase, problem) keys");
  for (const [key, record] of want) assert.equal(got.get(key), record, `${key}: same outcome as without faults`);
  const injected = b.faults.injected;
  assert.isAbove(injected.dropped, 0);
  assert.isAbove(injected.duplicated, 0);
  assert.isAbove(injected.retries, 0, "dropped requests were retried");
  assert.deepEqual(a.faults.injected, {});
  console.log(`${chaos.runDir.split("/").pop()}: ${chaos.wallS.toFixed(1)} s (clean ${clean.wallS.toFixed(1)} s), faults ${JSON.stringify(injected)}`);
}

describe("rstar evolve --chaos", () => {
  let root: string;
  let clean: Promise<Finished>;
  let local: Promise<Finished>;
  let nats: Promise<Finished>;
  const run = `natschaos-${Deno.pid}`;

  beforeAll(async () => {
    root = await Deno.makeTempDir({ prefix: "rstar-evolve-chaos-" });
    clean = evolve(join(root, "clean"), []);
    local = evolve(join(root, "local"), ["--chaos", CHAOS]);
    nats = evolve(join(root, run), ["--nats", url, "--workers", "2", "--chaos", CHAOS]);
    // Each test awaits its own runs; none is left unobserved when one fails.
    for (const p of [clean, local, nats]) p.catch(() => {});
    return async () => {
      await Promise.allSettled([clean, local, nats]);
      await removeRunStore(run).catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    };
  });

  it("loses nothing in one process under drops, duplicates and delays, and records what it injected", async () => {
    await assertSameAsClean(await clean, await local);
  }, 180_000);

  it("loses nothing over NATS with 2 workers under drops, duplicates and delays, and stops the workers", async () => {
    await assertSameAsClean(await clean, await nats);
    assert.deepEqual(await workerPids(run), [], "no worker process is left");
  }, 180_000);
});
