/**
 * Reliability: the NATS server is SIGKILLed while `rstar evolve --nats --workers 2` searches and
 * restarted on the same port within 5 s. The evolve process and its workers reconnect, the
 * requests in flight are sent again, and the run finishes with every problem recorded once. And
 * a server down for longer, while the run trains, costs the run nothing: it reconnects whenever
 * the server is back (a search waits for it), and its next search goes through the same workers.
 * Runs a private `nats-server` (own port, own store directory), stopped by pid.
 */
import { assert, describe, it } from "vitest";
import { join } from "node:path";
import {
  finishedWithNothingLost,
  freePort,
  killHard,
  recordedFaults,
  startEvolve,
  startNatsServer,
  stopEvolve,
  workerPids,
} from "../helpers/evolveProcess.ts";

describe("rstar evolve over NATS across a server restart", () => {
  it("finishes the run with nothing lost when the server is killed mid-search and restarted within 5 s", async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-nats-restart-" });
    const port = freePort();
    const store = join(root, "nats");
    const run = `restart-${Deno.pid}`;
    const runDir = join(root, run);
    let server: Deno.ChildProcess | undefined = await startNatsServer(port, store);
    const evolve = startEvolve([
      "--preset", "smoke", "--rounds", "1", "--nats", `nats://127.0.0.1:${port}`, "--workers", "2", "--run", runDir,
    ]);
    try {
      // The first problem is recorded: the search is under way, with the others in flight.
      await evolve.waitForLine(/round 1 search: 1\/\d+/);
      await killHard(server);
      server = undefined;
      const killedAt = Date.now();
      await new Promise((r) => setTimeout(r, 1500));
      server = await startNatsServer(port, store);
      assert.isBelow(Date.now() - killedAt, 5000, "the server is back within 5 s");
      const { summary } = await finishedWithNothingLost(evolve, runDir);
      const faults = await recordedFaults(runDir);
      assert.deepEqual(summary.faults.injected, faults);
      assert.deepEqual(await workerPids(run), [], "no worker process is left");
      assert.isAbove(faults.retries ?? 0, 0, "requests in flight at the kill were sent again");
      assert.isAbove(faults.reconnects ?? 0, 0, `the evolve process saw the server go and come back: ${JSON.stringify(faults)}`);
      console.log(`nats restart: faults ${JSON.stringify(faults)}`);
    } finally {
      await stopEvolve(evolve, run);
      if (server) await killHard(server);
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 90_000);

  it("rides out a server that is down for 30 s from the start of its training: it reconnects, its worker too, and the next round searches", async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-nats-outage-" });
    const port = freePort();
    const store = join(root, "nats");
    const run = `outage-${Deno.pid}`;
    const runDir = join(root, run);
    let server: Deno.ChildProcess | undefined = await startNatsServer(port, store);
    // Round 1 trains for about as long as the outage (thousands of steps of the smoke model); a
    // search that comes first waits for the connection.
    const evolve = startEvolve([
      "--preset", "smoke", "--rounds", "2", "--nats", `nats://127.0.0.1:${port}`, "--workers", "1", "--run", runDir,
      "--set", "sft.batchSize=2", "--set", "sft.firstRoundEpochs=1000", "--set", "eval.strategies=greedy",
    ]);
    try {
      await evolve.waitForLine(/round 1 SFT: start/);
      await killHard(server);
      server = undefined;
      await evolve.waitForLine(/NATS connection to \S+ lost; reconnecting/);
      await new Promise((r) => setTimeout(r, 30_000));
      server = await startNatsServer(port, store);
      await evolve.waitForLine(/NATS connection to \S+ back after/);
      const { summary, stderr } = await finishedWithNothingLost(evolve, runDir);
      assert.equal(summary.rounds.length, 2);
      assert.match(stderr, /round 2 search: done 10\/10/);
      // The run-name claim (renewed every 10 s) lapsed during the outage and came back.
      assert.match(stderr, /run name \S+: cannot renew its claim on NATS[^]*run name \S+: its claim on NATS is renewed/);
      assert.deepEqual(await workerPids(run), [], "no worker process is left");
    } finally {
      await stopEvolve(evolve, run);
      if (server) await killHard(server);
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 120_000);
});
