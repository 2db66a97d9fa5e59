import { assert, describe, it } from "vitest";
import { ControlState } from "../../actors/controlState.ts";

describe("ControlState", () => {
  it("counts the time spent paused, a pause under way up to now, and a repeated pause or resume once", () => {
    let now = 0;
    const c = new ControlState("r", () => now);
    now = 100;
    c.setPaused(true);
    now = 300;
    c.setPaused(true); // already paused: the pause still began at 100
    assert.equal(c.pausedMs(), 200);
    now = 400;
    c.setPaused(false);
    now = 1_000;
    c.setPaused(false);
    assert.equal(c.pausedMs(), 300);
    c.setPaused(true);
    now = 1_050;
    assert.equal(c.pausedMs(), 350);
  });

  it("status stops listing the actors of a worker process known to be gone", () => {
    const c = new ControlState("r");
    c.seeWorker({ id: "w0-expander-0", role: "expander", pid: 10, lastSeen: 1 });
    c.seeWorker({ id: "w1-expander-0", role: "expander", pid: 11, lastSeen: 1 });
    c.forgetWorker(10);
    assert.deepEqual(c.snapshot().workers.map((w) => w.id), ["w1-expander-0"]);
  });
});
