/**
 * `rstar evolve --nats URL --workers N`: the search runs over NATS with N spawned
 * `rstar worker --role expander` processes, which are stopped at the end (none left behind). The
 * test removes the run's object store from the server afterwards. Needs NATS with JetStream on
 * 127.0.0.1:4222 (`RSTAR_NATS_URL` to override).
 */
import { assert, describe, it } from "vitest";
import { join } from "node:path";
import { resolveConfig } from "../../scripts/run/config.ts";
import { solve, solveOverNats } from "../../scripts/commands/solve.ts";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { ControlMessages, PROTOCOL_VERSION } from "../../protocols/messages.ts";
import { call } from "../../protocols/codec.ts";
import { Result } from "effect";
import { runSubjects } from "../../protocols/subjects.ts";
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

/** A fresh folder and run name for one test; `cleanup()` removes the folder and the run's object store. */
async function tempRun(tag: string): Promise<{ root: string; run: string; runDir: string; cleanup(): Promise<void> }> {
  const root = await Deno.makeTempDir({ prefix: `rstar-evolve-${tag}-` });
  const run = `${tag}-${Deno.pid}`;
  return {
    root,
    run,
    runDir: join(root, run),
    async cleanup() {
      await removeRunStore(run).catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

describe("rstar evolve --nats --workers", () => {
  it("searches through 2 worker processes, loses nothing and stops the workers", async () => {
    const { run, runDir, cleanup } = await tempRun("nats");
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
      await cleanup();
    }
  }, 120_000);

  it("answers rstar ctl while it trains, with its round and phase, names the models an evaluation uses, and a knob set then holds for the next round's search", async () => {
    const { run, runDir, cleanup } = await tempRun("ctl");
    try {
      // Round 1 trains long enough (600 steps of the smoke model) to be asked while it does, and
      // evaluates long enough (40 problems, 24 samples each) to be asked while it does that.
      const evolve = startEvolve([
        "--preset", "smoke", "--rounds", "2", "--nats", url, "--run", runDir,
        "--set", "sft.batchSize=2", "--set", "sft.firstRoundEpochs=100", "--set", "eval.strategies=bon-vote",
        "--set", "eval.samples=24", "--set", "test.problems=40",
      ]);
      await evolve.waitForLine(/round 1 SFT: start/);
      const status = await ctl(run, "status");
      assert.equal(status.code, 0);
      assert.deepInclude(status.reply, { run, round: 1, phase: "train", paused: false });
      // While the policy trains, progress counts its optimiser steps.
      assert.isAbove((status.reply!.progress as { total: number }).total, 100);
      const set = await ctl(run, "set", "rollouts=3");
      assert.equal(set.code, 0);
      assert.deepInclude(set.reply, { key: "rollouts", value: 3 });
      // Round 1's evaluation uses the policy it trained, where the search's heartbeats said bootstrap.
      await evolve.waitForLine(/round 1 eval bon-vote: start/);
      const bus = await connectNatsBus(url, { log: () => {} });
      try {
        const rep = await call(bus, runSubjects(run).control("status"), ControlMessages.status.request, ControlMessages.status.reply, {
          v: PROTOCOL_VERSION,
          id: "eval-status",
        }, { timeoutMs: 10_000 });
        assert.deepInclude(Result.getOrThrow(rep), { round: 1, phase: "eval-bon-vote" });
        assert.deepEqual(Result.getOrThrow(rep).models, { policy: "policy-r1", ppm: "ppm-r1" });
        // Its progress counts the evaluation's test problems.
        assert.equal(Result.getOrThrow(rep).progress.total, 40);
      } finally {
        await bus.close();
      }
      const end = await evolve.finished();
      assert.equal(end.code, 0, end.stderr.slice(-2000));
      const searched = (await ledgerEvents(runDir)).filter((e) => e.type === "problem-searched");
      const most = (round: number, phase: string) =>
        Math.max(...searched.filter((e) => e.round === round && e.phase === phase).map((e) => e.rollouts as number));
      assert.isAbove(most(1, "train"), 3, "round 1 searched with the preset's rollouts");
      assert.equal(most(2, "train"), 3, "round 2 searched with the rollouts set during round 1's training");
      const retried = searched.some((e) => e.round === 2 && e.phase === "retry");
      if (retried) assert.equal(most(2, "retry"), 3 * 2, "and its retry with retryMultiplier (2) times them");
    } finally {
      await cleanup();
    }
  }, 180_000);

  it("answers rstar solve --nats while it trains, with its newest models: what rstar solve --run DIR answers from the same round", async () => {
    const { run, runDir, cleanup } = await tempRun("solve");
    const text = "Ann buys 4 pens at 3 dollars each. How much does she pay?";
    try {
      // Both rounds train long enough (hundreds of steps of the smoke model) to be asked while they do.
      const evolve = startEvolve([
        "--preset", "smoke", "--rounds", "2", "--nats", url, "--run", runDir,
        "--set", "sft.batchSize=2", "--set", "sft.firstRoundEpochs=100", "--set", "sft.epochs=100", "--set", "eval.strategies=greedy",
      ]);
      // Before any round is trained, the newest policy is round 1's search policy.
      await evolve.waitForLine(/round 1 SFT: start/);
      // A malformed request gets an error reply and a warning line; the run goes on answering.
      const bus = await connectNatsBus(url, { log: () => {} });
      try {
        const raw = new TextEncoder().encode(JSON.stringify({ v: PROTOCOL_VERSION, id: "bad-solve", rollouts: 0 }));
        const bad = await bus.request(runSubjects(run).control("solve"), raw, { timeoutMs: 10_000 });
        assert.strictEqual(bad.headers["Rstar-Error"], "BadRequest");
      } finally {
        await bus.close();
      }
      await evolve.waitForLine(/solve request bad-solve: Rejected bad request/);
      const first = await solveOverNats(text, { url, run, rollouts: 4, timeoutMs: 60_000 });
      assert.deepEqual(first.models, { policy: "bootstrap" });
      assert.isDefined(first.answer, "the bootstrap policy answers a one-step purchase");
      assert.isAbove(first.steps.length, 0);
      // While round 2 trains, the newest models are round 1's, and the answer is the one the run
      // directory's round-1 models give in this process.
      await evolve.waitForLine(/round 2 SFT: start/, 120_000);
      // A level-1 problem round 1 learned from (the smoke policy solves little else).
      const learned = (await ledgerEvents(runDir)).find((e) =>
        e.type === "problem-searched" && e.round === 1 && e.level === 1 && (e.sft as unknown[]).length > 0
      );
      const seen = (learned!.sft as { problem: string }[])[0]!.problem;
      const remote = await solveOverNats(seen, { url, run, rollouts: 4, timeoutMs: 60_000 });
      assert.deepEqual(remote.models, { policy: "policy-r1", ppm: "ppm-r1" });
      const local = await solve(seen, runDir, 0, 4);
      assert.deepInclude(local.models, { round: 1, policy: "policy-r1", scorer: "ppm-r1" });
      assert.isDefined(remote.answer);
      assert.strictEqual(remote.answer, local.answer);
      assert.deepEqual(remote.steps, local.steps.map((st) => ({ text: st.text, code: st.code, output: st.output })));
      evolve.child.kill("SIGINT");
      const end = await evolve.finished();
      assert.equal(end.code, 130, end.stderr.slice(-2000));
    } finally {
      await cleanup();
    }
  }, 240_000);

  it("leaves no worker process behind when it is SIGKILLed: its workers see it exit and stop", async () => {
    const { run, runDir, cleanup } = await tempRun("orphans");
    try {
      const evolve = startEvolve([
        "--preset", "smoke", "--rounds", "1", "--nats", url, "--workers", "2", "--run", runDir,
        "--set", "sft.batchSize=2", "--set", "sft.firstRoundEpochs=100",
      ]);
      await evolve.waitForLine(/2 workers joined run /);
      const pids = await workerPids(run);
      assert.equal(pids.length, 2);
      evolve.child.kill("SIGKILL");
      await evolve.finished();
      const t0 = Date.now();
      while ((await workerPids(run)).length > 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(await workerPids(run), [], `no worker outlives the evolve process (${pids.join(", ")})`);
    } finally {
      for (const pid of await workerPids(run)) Deno.kill(pid, "SIGKILL");
      await cleanup();
    }
  }, 120_000);

  it("refuses a run name that a live evolve process uses on the same server, naming it, and takes it over once that process is gone", async () => {
    const { root, run, cleanup } = await tempRun("claim");
    const dirA = join(root, "a", run);
    const dirB = join(root, "b", run);
    try {
      const a = startEvolve([
        "--preset", "smoke", "--rounds", "1", "--nats", url, "--run", dirA, "--set", "sft.batchSize=2", "--set", "sft.firstRoundEpochs=300",
      ]);
      await a.waitForLine(/round 1 SFT: start/);
      const evolveB = (args: string[]) =>
        new Deno.Command(deno, { args: ["run", "-A", "--quiet", "scripts/rstar.ts", "evolve", ...args], env, stdout: "null", stderr: "piped" }).output();
      const b = await evolveB(["--preset", "smoke", "--rounds", "1", "--nats", url, "--run", dirB]);
      const stderr = new TextDecoder().decode(b.stderr);
      assert.equal(b.code, 1, stderr);
      assert.include(stderr, `run name ${run} is in use by process ${a.child.pid} on ${Deno.hostname()} (${dirA})`);
      a.child.kill("SIGKILL");
      await a.finished();
      // The refused run left nothing behind, and once that process is gone the same command takes
      // the name over at once, with no wait for the claim to lapse.
      assert.isFalse(await Deno.stat(dirB).then(() => true, () => false), "the refused run left no directory");
      const again = await evolveB(["--preset", "smoke", "--rounds", "1", "--nats", url, "--run", dirB]);
      assert.equal(again.code, 0, new TextDecoder().decode(again.stderr));
      assert.isTrue(JSON.parse(await Deno.readTextFile(join(dirB, "summary.json"))).finished);
    } finally {
      await cleanup();
    }
  }, 180_000);
});
