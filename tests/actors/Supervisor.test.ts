import { assert, describe, it } from "vitest";
import type { ChildExit, ChildHandle, ChildSpec } from "../../actors/childMachine.ts";
import { silentLogger } from "../../actors/log.ts";
import { startSupervisor } from "../../actors/supervisorMachine.ts";

/**
 * An actor that crashes soon after each start, having answered `served(start)` requests first;
 * after `lives` starts it stops crashing and runs until stopped.
 */
function flakyActor(lives: number, served: (start: number) => number): ChildSpec & { starts: () => number } {
  let starts = 0;
  return {
    name: "flaky",
    starts: () => starts,
    start(): Promise<ChildHandle> {
      const start = starts++;
      let stop: () => void = () => {};
      const exited = new Promise<ChildExit>((resolve) => {
        stop = () => resolve({});
        if (start < lives) setTimeout(() => resolve({ error: new Error(`crash ${start}`) }), 1);
      });
      return Promise.resolve({ exited, served: () => served(start), stop: () => Promise.resolve(stop()) });
    },
  };
}

function supervise(spec: ChildSpec, maxAttempts: number) {
  return startSupervisor({
    specs: [spec],
    options: { backoff: { baseMs: 1, maxMs: 4, maxAttempts, seed: 1 }, now: () => Date.now(), log: silentLogger },
  });
}

/** Resolves once `cond` holds (polled), or rejects after `ms`. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("Supervisor", () => {
  it("an actor that answers requests between crashes is restarted for as long as it keeps crashing", async () => {
    const actor = flakyActor(20, () => 1);
    const sup = supervise(actor, 3);
    await until(() => actor.starts() > 20);
    assert.strictEqual(sup.restarts()["flaky"], 20, "20 crashes, 20 restarts, far past the limit of 3");
    assert.strictEqual(await sup.stop(), undefined, "stopped by the caller, not given up");
  });

  it("an actor that crashes its limit of times in a row without answering anything is given up on", async () => {
    // Three working lives, then lives that crash before answering anything.
    const actor = flakyActor(100, (start) => (start < 3 ? 1 : 0));
    const failure = await supervise(actor, 3).done;
    assert.strictEqual(failure?.actor, "flaky");
    assert.match(failure!.message, /Cannot keep flaky running: gave up after \d+ restarts: last failure: crash \d+/);
    assert.strictEqual(actor.starts(), 3 + 3, "three working lives, then three that answer nothing");
  });
});
