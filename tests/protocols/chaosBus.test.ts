import { Result } from "effect";
import { assert, describe, it } from "vitest";
import { BusError } from "../../protocols/bus.ts";
import {
  ChaosBus,
  chaosControlHandler,
  type ChaosSpec,
  crashRate,
  decideChaos,
  formatChaosSpec,
  NO_CHAOS,
  parseChaosSpec,
} from "../../protocols/chaosBus.ts";
import { call, serve } from "../../protocols/codec.ts";
import { InProcessBus } from "../../protocols/inProcessBus.ts";
import { ChaosReply, ChaosRequest } from "../../protocols/messages.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { ManualClock, settle } from "./manualClock.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function spec(text: string): ChaosSpec {
  const r = parseChaosSpec(text);
  if (Result.isFailure(r)) return assert.fail(r.failure.message);
  return r.success;
}

function specError(text: string): string {
  const r = parseChaosSpec(text);
  if (Result.isSuccess(r)) return assert.fail(`expected "${text}" to be refused`);
  assert.equal(r.failure._tag, "ChaosSpecError");
  return r.failure.message;
}

describe("parseChaosSpec", () => {
  it("parses the documented example into a typed spec", () => {
    const s = spec("drop=0.1,dup=0.05,delay=0-100ms,crash=expander:0.02,kill-worker=30s");
    assert.deepEqual(s.rules, [{ pattern: ">", drop: 0.1, dup: 0.05, delay: { minMs: 0, maxMs: 100 } }]);
    assert.deepEqual(s.crash, [{ actor: "expander", rate: 0.02 }]);
    assert.equal(s.killWorkerEveryMs, 30_000);
    assert.equal(crashRate(s, "expander"), 0.02);
    assert.equal(crashRate(s, "scorer"), 0);
  });

  it("scopes faults to a subject pattern with @, short names meaning run subjects", () => {
    const s = spec("drop=0.5@expand,delay=1-2s@rstar.*.score,dup=0.1,seed=9");
    assert.equal(s.seed, 9);
    assert.deepEqual(s.rules, [
      { pattern: "rstar.*.expand", drop: 0.5 },
      { pattern: "rstar.*.score", delay: { minMs: 1000, maxMs: 2000 } },
      { pattern: ">", dup: 0.1 },
    ]);
  });

  it("formats a spec into text that parses back to the same spec", () => {
    const s = spec("drop=0.5@expand,delay=10ms-1s,reorder=0.2,crash=scorer:0.1,crash=expander:0.3,kill-worker=2m,seed=4");
    assert.deepEqual(spec(formatChaosSpec(s)), s);
  });

  it("treats an empty spec and 'none' as no faults", () => {
    assert.deepEqual(spec(""), NO_CHAOS);
    assert.deepEqual(spec(" none "), NO_CHAOS);
  });

  it("refuses unknown keys and bad values with a message naming the problem", () => {
    const unknown = specError("drop=0.1,explode=1");
    assert.match(unknown, /^Fix the chaos spec: unknown key "explode"/);
    assert.match(unknown, /drop, dup, delay/);
    assert.match(specError("drop=1.5"), /drop=1.5 must be a probability/);
    assert.match(specError("crash=expander:2"), /crash=expander:2 must be a probability/);
    assert.match(specError("crash=expandr:0.2"), /crash=expandr:0.2: no actor "expandr" crashes on demand \(use expander or scorer\)/);
    assert.match(specError("dup=lots"), /probability/);
    assert.match(specError("delay=100-10ms"), /delay=100-10ms/);
    assert.match(specError("delay=fast"), /duration/);
    assert.match(specError("crash=expander"), /actor:probability/);
    assert.match(specError("kill-worker=soon"), /positive duration/);
    assert.match(specError("kill-worker=30s@expand"), /cannot be scoped/);
    assert.match(specError("drop"), /key=value/);
  });

  it("refuses a scope that names no subject, and a fault given twice, rather than inject nothing or half of it", () => {
    assert.match(specError("drop=0.5@"), /names no subjects after the @/);
    assert.match(specError("drop=0.5@nosuch"), /@nosuch names no subject of a run \(use expand, score, /);
    assert.match(specError("drop=0.5@rstar..expand"), /"rstar..expand" is not a subject pattern/);
    assert.match(specError("drop=0.5@rstar.>.expand"), /is not a subject pattern/);
    assert.match(specError("crash=expander:0.1,crash=expander:0.9"), /crash=expander is given twice/);
    assert.match(specError("drop=0.1,drop=0.2"), /drop is given twice/);
    assert.match(specError("delay=1ms@score,delay=2ms@score"), /delay@rstar.\*.score is given twice/);
    // The same fault in different scopes is one rule per scope, as documented.
    assert.deepEqual(spec("drop=0.1@expand,drop=0.2").rules, [{ pattern: "rstar.*.expand", drop: 0.1 }, { pattern: ">", drop: 0.2 }]);
    assert.deepEqual(spec("drop=0.1@*").rules, [{ pattern: "rstar.*.*", drop: 0.1 }]);
  });
});

describe("decideChaos", () => {
  const s = spec("drop=0.1,dup=0.05,delay=0-100ms");

  it("gives the same decisions for the same seed, subject and message number", () => {
    for (let n = 0; n < 200; n++) {
      assert.deepEqual(decideChaos(s, 42, "rstar.a.expand", n), decideChaos(s, 42, "rstar.a.expand", n));
    }
  });

  it("draws different decisions under another seed", () => {
    const a = Array.from({ length: 200 }, (_, n) => decideChaos(s, 1, "rstar.a.expand", n));
    const b = Array.from({ length: 200 }, (_, n) => decideChaos(s, 2, "rstar.a.expand", n));
    assert.notDeepEqual(a, b);
  });

  it("drops and duplicates at about the configured rates and delays within the range", () => {
    const n = 4000;
    const ds = Array.from({ length: n }, (_, i) => decideChaos(s, 7, "rstar.r.score", i));
    const drops = ds.filter((d) => d.drop).length / n;
    const dups = ds.filter((d) => d.dup).length / n;
    assert.approximately(drops, 0.1, 0.03);
    assert.approximately(dups, 0.05, 0.02);
    assert.isTrue(ds.every((d) => d.delayMs >= 0 && d.delayMs <= 100));
    assert.isAbove(new Set(ds.map((d) => d.delayMs)).size, 50);
  });

  it("leaves subjects outside a scoped pattern alone", () => {
    const scoped = spec("drop=1@expand");
    assert.isTrue(decideChaos(scoped, 0, "rstar.x.expand", 0).drop);
    assert.isFalse(decideChaos(scoped, 0, "rstar.x.score", 0).drop);
  });

  it("keeps drop decisions unchanged when only the dup rate changes", () => {
    const a = spec("drop=0.3,dup=0.1");
    const b = spec("drop=0.3,dup=0.6");
    for (let n = 0; n < 100; n++) {
      assert.equal(decideChaos(a, 5, "s.t", n).drop, decideChaos(b, 5, "s.t", n).drop);
    }
  });
});

describe("ChaosBus", () => {
  async function deliveredUnder(text: string, seed: number): Promise<{ got: string[]; stats: object }> {
    const inner = new InProcessBus();
    const bus = new ChaosBus(inner, spec(text), { seed });
    const got: string[] = [];
    bus.subscribe("rstar.r.events.>", (m) => void got.push(dec.decode(m.data)));
    for (let i = 0; i < 300; i++) bus.publish("rstar.r.events.node-expanded", enc.encode(String(i)));
    await bus.flush();
    await settle();
    await bus.close();
    return { got, stats: bus.stats() };
  }

  it("injects the same faults into the same traffic with the same seed", async () => {
    const a = await deliveredUnder("drop=0.2,dup=0.1", 11);
    const b = await deliveredUnder("drop=0.2,dup=0.1", 11);
    const c = await deliveredUnder("drop=0.2,dup=0.1", 12);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.got, c.got);
    const st = a.stats as { seen: number; dropped: number; duplicated: number };
    assert.equal(st.seen, 300);
    assert.equal(a.got.length, 300 - st.dropped + st.duplicated);
  });

  it("holds a delayed message until its delay has passed", async () => {
    const clock = new ManualClock();
    const bus = new ChaosBus(new InProcessBus({ clock }), spec("delay=100ms"), { clock });
    const got: string[] = [];
    bus.subscribe("a.b", (m) => void got.push(dec.decode(m.data)));
    bus.publish("a.b", enc.encode("late"));
    await settle();
    assert.deepEqual(got, []);
    await clock.advance(99);
    assert.deepEqual(got, []);
    await clock.advance(1);
    assert.deepEqual(got, ["late"]);
    assert.equal(bus.stats().delayed, 1);
  });

  it("makes a dropped request time out at its deadline", async () => {
    const clock = new ManualClock();
    const bus = new ChaosBus(new InProcessBus({ clock }), spec("drop=1@expand"), { clock });
    let served = 0;
    bus.subscribe("rstar.r.expand", (m) => {
      served++;
      m.respond(enc.encode("ok"));
    });
    const pending = bus.request("rstar.r.expand", enc.encode("q"), { timeoutMs: 500 }).then(() => undefined, (e) => e);
    await clock.advance(500);
    const err = await pending;
    assert.instanceOf(err, BusError);
    assert.equal((err as BusError).reason, "Timeout");
    assert.equal(served, 0);
  });

  it("counts the requests that await their reply, a dropped one not being sent", async () => {
    const clock = new ManualClock();
    const bus = new ChaosBus(new InProcessBus({ clock }), spec("drop=1@score"), { clock });
    const held: (() => void)[] = [];
    bus.subscribe("rstar.r.expand", (m) => void held.push(() => m.respond(enc.encode("ok"))));
    const asks = [1, 2].map(() => bus.request("rstar.r.expand", enc.encode("q"), { timeoutMs: 500 }));
    const dropped = bus.request("rstar.r.score", enc.encode("q"), { timeoutMs: 500 }).catch(() => "timeout");
    await settle();
    assert.equal(bus.inFlight(), 2);
    held.shift()!();
    await asks[0];
    assert.equal(bus.inFlight(), 1);
    await clock.advance(500);
    assert.equal(await dropped, "timeout");
    await asks[1]!.catch(() => {});
    assert.equal(bus.inFlight(), 0, "a request that timed out is no longer in flight");
  });

  it("duplicates a request so the responder sees it twice while the caller gets one reply", async () => {
    const bus = new ChaosBus(new InProcessBus(), spec("dup=1@expand"));
    const seen: string[] = [];
    bus.inner.subscribe("rstar.r.expand", (m) => {
      seen.push(dec.decode(m.data));
      m.respond(enc.encode("ok"));
    });
    const reply = await bus.request("rstar.r.expand", enc.encode("q1"), { timeoutMs: 1000 });
    await settle();
    assert.equal(dec.decode(reply.data), "ok");
    assert.deepEqual(seen, ["q1", "q1"]);
  });

  it("drops replies judged by the request's subject", async () => {
    const clock = new ManualClock();
    const inner = new InProcessBus({ clock });
    const responder = new ChaosBus(inner, spec("drop=1@score"), { clock });
    responder.subscribe("rstar.r.score", (m) => void m.respond(enc.encode("lost")));
    const pending = inner.request("rstar.r.score", enc.encode("q"), { timeoutMs: 200 }).then(() => "replied", (e) => e.reason);
    await clock.advance(200);
    assert.equal(await pending, "Timeout");
    assert.equal(responder.stats().dropped, 1);
  });

  it("reorders a held publication after the next one on its subject, losing nothing", async () => {
    const bus = new ChaosBus(new InProcessBus(), spec("reorder=1"));
    const got: string[] = [];
    bus.subscribe("a.b", (m) => void got.push(dec.decode(m.data)));
    bus.publish("a.b", enc.encode("1"));
    bus.publish("a.b", enc.encode("2"));
    await bus.flush();
    await settle();
    assert.deepEqual(got, ["2", "1"]);
  });

  it("follows a new spec set at run time", async () => {
    const bus = new ChaosBus(new InProcessBus(), spec("drop=1"));
    const got: string[] = [];
    bus.subscribe("a.b", (m) => void got.push(dec.decode(m.data)));
    bus.publish("a.b", enc.encode("dropped"));
    bus.setSpec(NO_CHAOS);
    bus.publish("a.b", enc.encode("kept"));
    await bus.flush();
    await settle();
    assert.deepEqual(got, ["kept"]);
    assert.equal(bus.stats().dropped, 1);
  });
});

describe("chaosControlHandler", () => {
  it("sets the spec a control message carries and refuses a bad one, naming the problem", async () => {
    const inner = new InProcessBus();
    const chaos = new ChaosBus(inner, NO_CHAOS);
    const s = runSubjects("ctl");
    serve(inner, s.control("chaos"), ChaosRequest, chaosControlHandler(chaos), { replySchema: ChaosReply, log: () => {} });
    const ok = await call(inner, s.control("chaos"), ChaosRequest, ChaosReply, { v: 2, id: "c1", spec: "drop=0.25, dup=0.5@expand" }, {
      timeoutMs: 500,
    });
    assert.equal(Result.getOrThrow(ok).spec, "dup=0.5@rstar.*.expand,drop=0.25");
    assert.deepEqual(chaos.getSpec(), spec("drop=0.25,dup=0.5@expand"));
    const bad = await call(inner, s.control("chaos"), ChaosRequest, ChaosReply, { v: 2, id: "c2", spec: "boom=1" }, { timeoutMs: 500 });
    if (Result.isSuccess(bad)) return assert.fail("expected a refusal");
    assert.match(bad.failure.message, /unknown key "boom"/);
    assert.deepEqual(chaos.getSpec(), spec("drop=0.25,dup=0.5@expand"));
  });
});

describe("ChaosBus over NATS", () => {
  it("wraps a NATS bus the same way: a dropped request times out, a duplicated one is served twice", async () => {
    const nats = await connectNatsBus("nats://127.0.0.1:4222", { name: "chaos-test", log: () => {}, maxReconnectAttempts: 0 });
    try {
      const run = `chaos-${Deno.pid}`;
      const bus = new ChaosBus(nats, spec(`drop=1@rstar.${run}.train,dup=1@rstar.${run}.score`));
      const seen: string[] = [];
      for (const subject of [`rstar.${run}.train`, `rstar.${run}.score`]) {
        nats.subscribe(subject, (m) => {
          seen.push(`${subject.split(".").pop()}:${dec.decode(m.data)}`);
          m.respond(enc.encode("ok"));
        });
      }
      await nats.flush();
      const dropped = await bus.request(`rstar.${run}.train`, enc.encode("t"), { timeoutMs: 150 }).then(() => "replied", (e) => e.reason);
      assert.equal(dropped, "Timeout");
      const reply = await bus.request(`rstar.${run}.score`, enc.encode("s"), { timeoutMs: 2000 });
      assert.equal(dec.decode(reply.data), "ok");
      for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(seen, ["score:s", "score:s"]);
      assert.deepEqual({ dropped: bus.stats().dropped, duplicated: bus.stats().duplicated }, { dropped: 1, duplicated: 1 });
    } finally {
      await nats.close();
    }
  });
});
