/**
 * `rstar evolve --nats URL --workers N`: the search runs over NATS with N spawned
 * `rstar worker --role expander` processes, which are stopped at the end (none left behind). The
 * test removes the run's object store from the server afterwards. Needs NATS with JetStream on
 * 127.0.0.1:4222 (`RSTAR_NATS_URL` to override).
 */
import { assert, describe, it } from "vitest";
import { join } from "node:path";
import { resolveConfig } from "../../scripts/run/config.ts";
import { deno, env, natsUrl as url, removeRunStore, workerPids } from "../helpers/evolveProcess.ts";

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
      await removeRunStore(run).catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 120_000);
});
