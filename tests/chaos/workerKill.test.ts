/**
 * Reliability: worker processes are SIGKILLed while they hold requests (`--chaos kill-worker=`).
 * The requests they held time out and are sent again to the other expanders, a replacement
 * worker is started each time, and the run finishes with every problem recorded once; the kills,
 * restarts and retries are in summary.json. Needs NATS with JetStream on 127.0.0.1:4222
 * (`RSTAR_NATS_URL` to override).
 */
import { assert, describe, it } from "vitest";
import { join } from "node:path";
import { CommandFailed } from "../../scripts/cli.ts";
import { resolveConfig } from "../../scripts/run/config.ts";
import { createLocalServices } from "../../scripts/run/localServices.ts";
import {
  accountingProblem,
  deno,
  env,
  finishedWithNothingLost,
  natsUrl as url,
  recordedFaults,
  removeRunStore,
  startEvolve,
  stopEvolve,
  workerPids,
} from "../helpers/evolveProcess.ts";

function alive(pid: number): boolean {
  try {
    return !Deno.readTextFileSync(`/proc/${pid}/stat`).split(" ")[2]!.startsWith("Z");
  } catch {
    return false;
  }
}

describe("rstar evolve --chaos kill-worker", () => {
  it("finishes with nothing lost while worker processes are SIGKILLed and replaced, and records the kills and retries", async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-kill-worker-" });
    const run = `killw-${Deno.pid}`;
    const runDir = join(root, run);
    const evolve = startEvolve([
      "--preset", "smoke", "--rounds", "1", "--nats", url, "--workers", "2", "--run", runDir,
      "--chaos", "kill-worker=300ms",
    ]);
    try {
      const { summary, stderr } = await finishedWithNothingLost(evolve, runDir);
      const injected = summary.faults.injected;
      assert.deepEqual(injected, await recordedFaults(runDir));
      const kills = [...stderr.matchAll(/chaos: killed worker (\d+), started worker (\d+)/g)];
      assert.isAbove(injected.workerKills, 0, JSON.stringify(injected));
      assert.equal(injected.workerKills, kills.length, "every kill is counted");
      assert.equal(injected.workerRestarts, injected.workerKills, "each killed worker was replaced");
      assert.isAbove(injected.retries, 0, "requests held by killed workers were sent again");
      for (const [, killed] of kills) assert.isFalse(alive(Number(killed)), `worker ${killed} was killed`);
      assert.deepEqual(await workerPids(run), [], "no worker process is left");
      console.log(`kill-worker: faults ${JSON.stringify(injected)}`);
    } finally {
      await stopEvolve(evolve, run);
      await removeRunStore(run).catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 90_000);

  it("replaces a worker that dies by itself (not by chaos) and finishes every round with nothing lost", async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-worker-exit-" });
    const run = `wexit-${Deno.pid}`;
    const runDir = join(root, run);
    const evolve = startEvolve(["--preset", "smoke", "--rounds", "2", "--nats", url, "--workers", "2", "--run", runDir]);
    try {
      // While round 1 trains, one worker dies (as by the kernel's out-of-memory killer); round 2's
      // search waits for every worker to load the new policy, the replacement among them.
      await evolve.waitForLine(/round 1 SFT: start/, 60_000);
      const [victim] = await workerPids(run);
      assert.isDefined(victim, "a worker process runs");
      Deno.kill(victim!, "SIGKILL");
      const { summary, stderr } = await finishedWithNothingLost(evolve, runDir);
      const replaced = new RegExp(`worker ${victim} exited \\(killed by SIGKILL\\); started worker (\\d+) in its place`).exec(stderr);
      assert.isNotNull(replaced, stderr.slice(-3000));
      assert.isUndefined(await accountingProblem(runDir, 2));
      assert.deepEqual(summary.faults.injected, { workerExits: 1, workerRestarts: 1 });
      assert.deepEqual(await workerPids(run), [], "no worker process is left");
    } finally {
      await stopEvolve(evolve, run);
      await removeRunStore(run).catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 120_000);

  it("a run started with kill-worker and killed resumes in one process, without kill-worker and with its other faults", async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-kill-worker-resume-" });
    const run = `kwres-${Deno.pid}`;
    const runDir = join(root, run);
    const evolve = startEvolve([
      "--preset", "smoke", "--rounds", "1", "--nats", url, "--workers", "1", "--run", runDir, "--chaos", "kill-worker=2s,dup=0.05",
    ]);
    try {
      await evolve.waitForLine(/round 1 SFT: start/, 60_000);
      Deno.kill(evolve.child.pid, "SIGKILL");
      await evolve.finished();
      // The command `rstar status` and an interrupted run print to go on.
      const { stderr } = await finishedWithNothingLost(startEvolve(["--resume", "--run", runDir]), runDir);
      assert.include(stderr, "the run's --chaos kills worker processes, and this resume has none: it goes on without kill-worker (with dup=0.05)");
    } finally {
      await stopEvolve(evolve, run);
      await removeRunStore(run).catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 120_000);

  it("a worker that exits before it joins stops the start with the worker's own words", async () => {
    const run = `wfail-${Deno.pid}`;
    const why = JSON.stringify({ level: "error", msg: "Cannot load policy", error: "no such object" });
    const services = createLocalServices({
      nats: { url, run, workers: 1, workerArgs: () => ["eval", `console.error(${JSON.stringify(why)}); Deno.exit(3)`] },
    });
    try {
      const err = await services.start(resolveConfig("smoke", { rounds: 1 })).then(() => undefined, (e: unknown) => e);
      assert.instanceOf(err, CommandFailed);
      assert.match((err as Error).message, /^Cannot run over NATS: worker \d+ exited: Cannot load policy: no such object$/);
    } finally {
      await services.close();
      await removeRunStore(run).catch(() => {});
    }
  });

  it("refuses kill-worker without worker processes, with exit code 2 and the reason", async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-kill-worker-" });
    try {
      const out = await new Deno.Command(deno, {
        args: [
          "run", "-A", "--quiet", "scripts/rstar.ts", "evolve", "--preset", "smoke", "--rounds", "1",
          "--run", join(root, "none"), "--chaos", "drop=0.1,kill-worker=1s",
        ],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, stderr);
      assert.match(stderr, /kill-worker.*no worker processes.*--nats URL --workers N/);
    } finally {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  });
});
