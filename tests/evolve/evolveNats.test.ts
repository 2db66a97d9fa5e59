/**
 * `rstar evolve --nats URL --workers N`: the search runs over NATS with N spawned
 * `rstar worker --role expander` processes, which are stopped at the end (none left behind).
 * Needs NATS with JetStream on 127.0.0.1:4222 (`RSTAR_NATS_URL` to override).
 */
import { assert, describe, it } from "vitest";
import { join } from "node:path";
import { resolveConfig } from "../../scripts/run/config.ts";

const deno = join(Deno.cwd(), "node_modules", ".bin", "deno");
const env = { DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.cwd(), ".cache", "deno") };
const url = Deno.env.get("RSTAR_NATS_URL") ?? "nats://127.0.0.1:4222";

/** Pids of live processes whose command line runs `rstar.ts worker` for `run`. */
async function workerPids(run: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let cmd: string;
    try {
      cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).split("\0").join(" ");
    } catch {
      continue;
    }
    if (cmd.includes("rstar.ts worker") && cmd.includes(`--run ${run} `)) pids.push(Number(e.name));
  }
  return pids;
}

describe("rstar evolve --nats --workers", () => {
  it("searches through 2 worker processes, loses nothing and stops the workers", async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-evolve-nats-" });
    const runDir = join(root, `nats-${Deno.pid}`);
    const run = `nats-${Deno.pid}`;
    try {
      const out = await new Deno.Command(deno, {
        args: [
          "run", "-A", "--quiet", "scripts/rstar.ts", "evolve",
          "--preset", "smoke", "--rounds", "1", "--nats", url, "--workers", "2", "--run", runDir,
        ],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr.slice(-2000));
      assert.match(stderr, /2 workers joined run /);
      const summary = JSON.parse(await Deno.readTextFile(join(runDir, "summary.json")));
      assert.equal(summary.lost, 0);
      assert.equal(summary.rounds.length, 1);
      const config = resolveConfig("smoke", { rounds: 1 });
      const expected = config.train.firstRoundProblems ?? config.train.problemsPerRound;
      assert.equal(summary.rounds[0].train.problems, expected);
      assert.isTrue(summary.rounds[0].complete);
      assert.deepEqual(await workerPids(run), [], "no worker process is left");
    } finally {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 120_000);
});
