import { assert, describe, it } from "vitest";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { main } from "../../scripts/rstar.ts";
import { controlBody } from "../../scripts/commands/ctl.ts";
import { startScriptedSystem } from "../helpers/scriptedSystem.ts";

const NATS = "nats://127.0.0.1:4222";

describe("rstar ctl", () => {
  it("status, pause, resume and set round-trip with a running system over NATS", async () => {
    const run = `ctl-${Deno.pid}-${Date.now()}`;
    const bus = await connectNatsBus(NATS, { log: () => {} });
    const sys = startScriptedSystem({ bus, run, roles: ["searcher"] });
    const workerBus = await connectNatsBus(NATS, { log: () => {} });
    const worker = startScriptedSystem({ bus: workerBus, run, roles: ["expander"], scorer: undefined, id: "w9", heartbeatMs: 50 });
    try {
      await bus.flush();
      sys.control.setPhase(3, "search", { done: 2, total: 10 });
      const flags = ["--nats", NATS, "--run", run];
      assert.strictEqual(await main(["ctl", "pause", ...flags]), 0);
      assert.isTrue(sys.control.paused);
      assert.strictEqual(await main(["ctl", "resume", ...flags]), 0);
      assert.isFalse(sys.control.paused);
      assert.strictEqual(await main(["ctl", "set", "temperature=0.7", ...flags]), 0);
      assert.strictEqual(sys.control.knobs.temperature, 0.7);
      assert.strictEqual(await main(["ctl", "set", "rollouts=abc", ...flags]), 2);
      assert.strictEqual(await main(["ctl", "set", "depth=3", ...flags]), 2);
      assert.deepStrictEqual(sys.control.knobs, { temperature: 0.7 });

      const out = await new Deno.Command("node_modules/.bin/deno", {
        args: ["run", "-A", "--quiet", "scripts/rstar.ts", "ctl", "status", ...flags],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
      const status = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.deepInclude(status, { run, round: 3, phase: "search", paused: false });
      assert.deepStrictEqual(status.progress, { done: 2, total: 10 });
      assert.deepStrictEqual(status.knobs, { temperature: 0.7 });
      assert.deepInclude(status.workers.map((w: { actor: string; role: string }) => [w.actor, w.role]), ["w9-expander-0", "expander"]);
      assert.strictEqual(status.models.policy, "scripted-v1");
    } finally {
      await worker.stop();
      await workerBus.close();
      await sys.stop();
      await bus.close();
    }
  });

  it("a run that nobody serves is named with what to check, not a bus error", async () => {
    const run = `nobody-${Deno.pid}-${Date.now()}`;
    const out = await new Deno.Command("node_modules/.bin/deno", {
      args: ["run", "-A", "--quiet", "scripts/rstar.ts", "ctl", "status", "--nats", NATS, "--run", run],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.strictEqual(out.code, 1);
    assert.strictEqual(
      new TextDecoder().decode(out.stderr).trim(),
      `rstar: Cannot status run ${run}: nothing answers rstar.${run}.control.status at ${NATS}; is \`rstar evolve --nats ${NATS}\` running with a --run folder named ${run}?`,
    );
  });

  it("points a solve to rstar solve --nats, with a usage error before connecting", async () => {
    assert.throws(() => controlBody("solve", ["What is 2 + 2?"]), /rstar solve --nats URL --run NAME/);
    assert.throws(() => controlBody("stop", []), /expected one of status\|pause\|resume\|set\|chaos, got "stop"/);
    assert.strictEqual(await main(["ctl", "solve", "What is 2 + 2?", "--nats", "nats://127.0.0.1:1", "--run", "r"]), 2);
  });
});
