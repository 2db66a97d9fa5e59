/**
 * `.control.chaos` at run time: a running system on a ChaosBus takes a new spec from a control
 * message and injects it (its counters show the new faults), and refuses a bad spec with an error
 * reply naming the problem. A running `rstar evolve --nats` obeys it too (without `--chaos`):
 * bus faults, crash rates and worker kills; `rstar ctl chaos SPEC` sends it, and kill-worker is
 * refused for a run without worker processes. The evolve cases need NATS on 127.0.0.1:4222
 * (`RSTAR_NATS_URL` to override).
 */
import { Result } from "effect";
import { assert, describe, it } from "vitest";
import { join } from "node:path";
import { ChaosBus, formatChaosSpec, NO_CHAOS } from "../../protocols/chaosBus.ts";
import { type Bus, BusError } from "../../protocols/bus.ts";
import { call } from "../../protocols/codec.ts";
import { InProcessBus } from "../../protocols/inProcessBus.ts";
import { ChaosReply, ChaosRequest, StatusReply, StatusRequest } from "../../protocols/messages.ts";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import { main } from "../../scripts/rstar.ts";
import { resolveConfig } from "../../scripts/run/config.ts";
import { createLocalServices } from "../../scripts/run/localServices.ts";
import {
  finishedWithNothingLost,
  natsUrl as url,
  removeRunStore,
  startEvolve,
  stopEvolve,
  workerPids,
} from "../helpers/evolveProcess.ts";
import { startScriptedSystem, toyProblems } from "../helpers/scriptedSystem.ts";

const problems = toyProblems(3, "c");

function sendChaos(bus: Bus, run: string, spec: string, id: string) {
  return call(bus, runSubjects(run).control("chaos"), ChaosRequest, ChaosReply, { v: 2, id, spec }, { timeoutMs: 2000 });
}

describe(".control.chaos on a running system", () => {
  it("injects the faults a control message asks for, and refuses a bad spec naming the problem", async () => {
    const run = "chaos-ctl";
    const bus = new ChaosBus(new InProcessBus(), NO_CHAOS, { seed: 3 });
    const sys = startScriptedSystem({ bus, run, roles: ["expander", "scorer", "searcher"], heartbeatMs: 0, requestTimeoutMs: 300, chaos: bus });
    const search = () =>
      sys.search!.run(
        { round: 1, mode: "train", problems, config: { rollouts: 3, k: 2, maxDepth: 4 }, usePpm: true, seed: 5, concurrency: 3 },
        () => Promise.resolve(),
      );
    try {
      await search();
      assert.deepInclude(bus.stats(), { dropped: 0, duplicated: 0 }, "no faults before the control message");

      const ok = await sendChaos(bus, run, "dup=1@expand,drop=0.3@score", "c1");
      assert.equal(Result.getOrThrow(ok).spec, "dup=1@rstar.*.expand,drop=0.3@rstar.*.score");
      await search();
      const after = bus.stats();
      assert.isAbove(after.duplicated, 0, "expand requests were duplicated");
      assert.isAbove(after.dropped, 0, "score requests were dropped");
      assert.isAbove(sys.search!.stats().retries, 0, "dropped requests were sent again");

      const bad = await sendChaos(bus, run, "drop=2", "c2");
      if (Result.isSuccess(bad)) return assert.fail("a bad spec must be refused");
      assert.equal(bad.failure._tag, "RemoteError");
      assert.match(bad.failure.message, /drop=2 must be a probability between 0 and 1/);
      assert.equal(formatChaosSpec(bus.getSpec()), "dup=1@rstar.*.expand,drop=0.3@rstar.*.score", "the spec in force is unchanged");

      assert.isTrue(Result.isSuccess(await sendChaos(bus, run, "none", "c3")));
      const before = bus.stats();
      await search();
      assert.deepInclude(bus.stats(), { dropped: before.dropped, duplicated: before.duplicated }, "'none' stops the faults");
    } finally {
      await sys.stop();
      await bus.close();
    }
  });
});

describe("rstar evolve --nats under .control.chaos", () => {
  it("applies bus faults, crashes and worker kills sent while it runs, records them, and loses nothing", async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-chaos-ctl-" });
    const run = `chaosctl-${Deno.pid}`;
    const runDir = join(root, run);
    const nats = await connectNatsBus(url, { log: () => {} });
    const evolve = startEvolve(["--preset", "smoke", "--rounds", "1", "--nats", url, "--workers", "1", "--run", runDir]);
    try {
      // The run answers `.control.chaos` from the moment its workers have joined.
      const spec = "dup=0.5@expand,delay=0-20ms@expand,crash=expander:0.05,kill-worker=300ms";
      let reply: ChaosReply | undefined;
      for (let i = 0; i < 1500 && reply === undefined; i++) {
        const r = await sendChaos(nats, run, spec, `e${i}`);
        if (Result.isSuccess(r)) reply = r.success;
        else if (r.failure instanceof BusError && r.failure.reason === "NoResponders") await new Promise((res) => setTimeout(res, 20));
        else return assert.fail(`unexpected reply: ${r.failure.message}`);
      }
      assert.equal(reply?.spec, "dup=0.5@rstar.*.expand,delay=0-20ms@rstar.*.expand,crash=expander:0.05,kill-worker=300ms");
      const status = await call(nats, runSubjects(run).control("status"), StatusRequest, StatusReply, { v: 2, id: "st" }, { timeoutMs: 2000 });
      assert.equal(Result.getOrThrow(status).chaos, reply?.spec, "ctl status shows the spec in force");

      const bad = await sendChaos(nats, run, "dup=0.5,boom=1", "bad");
      if (Result.isSuccess(bad)) return assert.fail("a bad spec must be refused");
      assert.match(bad.failure.message, /unknown key "boom"/);
      assert.equal(await main(["ctl", "chaos", "dup=1.5", "--nats", url, "--run", run]), 2, "a bad spec is a usage error before sending");

      const { summary } = await finishedWithNothingLost(evolve, runDir);
      const injected = summary.faults.injected;
      assert.isAbove(injected.duplicated, 0, JSON.stringify(injected));
      assert.isAbove(injected.delayed, 0, JSON.stringify(injected));
      assert.isAbove(injected.crashes, 0, "the expander crashed (and was restarted)");
      assert.isAbove(injected.workerKills, 0, "the worker was killed");
      assert.equal(injected.workerRestarts, injected.workerKills);
      assert.deepEqual(await workerPids(run), [], "no worker process is left");
      console.log(`ctl chaos: faults ${JSON.stringify(injected)}`);
    } finally {
      await stopEvolve(evolve, run);
      await nats.close();
      await removeRunStore(run).catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 90_000);

  it("refuses kill-worker for a run without worker processes, with an error reply naming the reason", async () => {
    const run = `chaosctl0-${Deno.pid}`;
    const services = createLocalServices({ nats: { url, run, workers: 0 } });
    const nats = await connectNatsBus(url, { log: () => {} });
    try {
      await services.start(resolveConfig("smoke", { rounds: 1 }));
      const refused = await sendChaos(nats, run, "kill-worker=1s", "k");
      if (Result.isSuccess(refused)) return assert.fail("kill-worker without workers must be refused");
      assert.match(refused.failure.message, /kill-worker.*no worker processes/);
      assert.equal(await main(["ctl", "chaos", "kill-worker=1s", "--nats", url, "--run", run]), 1);
      const ok = await sendChaos(nats, run, "drop=0.1", "d");
      assert.equal(Result.getOrThrow(ok).spec, "drop=0.1");
    } finally {
      await services.close();
      await nats.close();
      await removeRunStore(run).catch(() => {});
    }
  });
});
