/**
 * `rstar evolve --nats URL --workers N`: the search runs over NATS with N spawned
 * `rstar worker --role expander` processes, which are stopped at the end (none left behind). The
 * test removes the run's object store from the server afterwards. Needs NATS with JetStream on
 * 127.0.0.1:4222 (`RSTAR_NATS_URL` to override).
 */
import { assert, describe, it } from "vitest";
import { join } from "node:path";
import { resolveConfig } from "../../scripts/run/config.ts";
import { deno, env, ledgerEvents, natsUrl as url, removeRunStore, startEvolve, workerPids } from "../helpers/evolveProcess.ts";

/** Runs `rstar ctl VERB ARGS` against the run; returns its exit code and JSON reply. */
async function ctl(run: string, verb: string, ...args: string[]): Promise<{ code: number; reply: Record<string, unknown> | undefined }> {
  const out = await new Deno.Command(deno, {
    args: ["run", "-A", "--quiet", "scripts/rstar.ts", "ctl", verb, ...args, "--nats", url, "--run", run],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  return { code: out.code, reply: text ? JSON.parse(text) : undefined };
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
      await removeRunStore(run).catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 120_000);

  it("answers rstar ctl while it trains, with its round and phase, and a knob set then holds for the next round's search", async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-evolve-ctl-" });
    const run = `ctl-${Deno.pid}`;
    const runDir = join(root, run);
    try {
      // Round 1 trains long enough (600 steps of the smoke model) to be asked while it does.
      const evolve = startEvolve([
        "--preset", "smoke", "--rounds", "2", "--nats", url, "--run", runDir,
        "--set", "sft.batchSize=2", "--set", "sft.firstRoundEpochs=100", "--set", "eval.strategies=greedy",
      ]);
      await evolve.waitForLine(/round 1 SFT: start/);
      const status = await ctl(run, "status");
      assert.equal(status.code, 0);
      assert.deepInclude(status.reply, { run, round: 1, phase: "train", paused: false });
      const set = await ctl(run, "set", "rollouts=3");
      assert.equal(set.code, 0);
      assert.deepInclude(set.reply, { key: "rollouts", value: 3 });
      const end = await evolve.finished();
      assert.equal(end.code, 0, end.stderr.slice(-2000));
      const searched = (await ledgerEvents(runDir)).filter((e) => e.type === "problem-searched");
      const most = (round: number) => Math.max(...searched.filter((e) => e.round === round).map((e) => e.rollouts as number));
      assert.isAbove(most(1), 3, "round 1 searched with the preset's rollouts");
      assert.isAtMost(most(2), 3, "round 2 searched with the rollouts set during round 1's training");
    } finally {
      await removeRunStore(run).catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 180_000);
});
