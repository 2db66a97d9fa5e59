import { assert, describe, it } from "vitest";
import { BusError } from "../../protocols/bus.ts";
import { InProcessBus, randomQueuePolicy, subjectMatches } from "../../protocols/inProcessBus.ts";
import { ManualClock, settle } from "./manualClock.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("subjectMatches", () => {
  it("matches '*' to exactly one token and '>' to one or more trailing tokens", () => {
    assert.isTrue(subjectMatches("a.*.c", "a.b.c"));
    assert.isFalse(subjectMatches("a.*.c", "a.b.x.c"));
    assert.isTrue(subjectMatches("a.>", "a.b.c"));
    assert.isFalse(subjectMatches("a.>", "a"));
    assert.isFalse(subjectMatches("a.b", "a.b.c"));
    assert.isTrue(subjectMatches(">", "x"));
  });
});

describe("InProcessBus", () => {
  it("delivers after publish returns, never inside it", async () => {
    const bus = new InProcessBus();
    const order: string[] = [];
    bus.subscribe("x", () => void order.push("handler"));
    bus.publish("x", enc.encode("1"));
    order.push("after publish");
    await settle();
    assert.deepEqual(order, ["after publish", "handler"]);
  });

  it("times a request out on the injected clock, without real waiting", async () => {
    const clock = new ManualClock();
    const bus = new InProcessBus({ clock });
    bus.subscribe("slow", () => {});
    let outcome = "pending";
    bus.request("slow", enc.encode("q"), { timeoutMs: 1000 }).then(
      () => (outcome = "replied"),
      (e: BusError) => (outcome = e.reason),
    );
    await clock.advance(999);
    assert.equal(outcome, "pending");
    await clock.advance(1);
    assert.equal(outcome, "Timeout");
    assert.equal(clock.pending(), 0);
  });

  it("spreads a queue group with a seeded PRNG, the same way for the same seed", async () => {
    const pattern = async (seed: number) => {
      const bus = new InProcessBus({ queuePolicy: randomQueuePolicy(seed) });
      const got: string[] = [];
      for (const m of ["a", "b", "c"]) bus.subscribe("w", () => void got.push(m), { queue: "q" });
      for (let i = 0; i < 30; i++) bus.publish("w", enc.encode(String(i)));
      await bus.flush();
      return got.join("");
    };
    assert.equal(await pattern(5), await pattern(5));
    assert.notEqual(await pattern(5), await pattern(6));
  });

  it("ignores a reply that arrives after the deadline", async () => {
    const clock = new ManualClock();
    const bus = new InProcessBus({ clock });
    const held: ((d: Uint8Array) => boolean)[] = [];
    bus.subscribe("late", (m) => void held.push((d) => m.respond(d)));
    const p = bus.request("late", enc.encode("q"), { timeoutMs: 10 }).then(() => "replied", (e) => e.reason);
    await settle();
    await clock.advance(10);
    held[0]!(enc.encode("too late"));
    await settle();
    assert.equal(await p, "Timeout");
  });

  it("refuses payloads above its maximum, like a NATS server", () => {
    const bus = new InProcessBus({ maxPayload: 16 });
    assert.throws(() => bus.publish("x", new Uint8Array(17)), /exceeds the maximum of 16/);
  });

  it("rejects pending requests with Closed when closed", async () => {
    const bus = new InProcessBus();
    bus.subscribe("never", () => {});
    const p = bus.request("never", enc.encode("q"), { timeoutMs: 60_000 }).then(() => "replied", (e) => e);
    await settle();
    await bus.close();
    const e = await p;
    assert.instanceOf(e, BusError);
    assert.equal(e.reason, "Closed");
    assert.throws(() => bus.publish("x", enc.encode("1")), BusError);
  });

  it("keeps delivering when a handler keeps publishing", async () => {
    const bus = new InProcessBus();
    let n = 0;
    bus.subscribe("loop", (m) => {
      n++;
      const i = Number(dec.decode(m.data));
      if (i < 2000) bus.publish("loop", enc.encode(String(i + 1)));
    });
    bus.publish("loop", enc.encode("0"));
    for (let t = 0; t < 200 && n < 2001; t++) await new Promise((r) => setTimeout(r, 1));
    assert.equal(n, 2001);
  });
});
