import { assert, describe, it } from "vitest";
import { BusError } from "../../protocols/bus.ts";
import { Effect, Exit, Result } from "effect";
import { call, callEffect, decode, encode, isRetryable, listen, ProtocolError, publish, publishEvent, serve } from "../../protocols/codec.ts";
import { InProcessBus } from "../../protocols/inProcessBus.ts";
import { DeadLetter, Event, Heartbeat, ScoreReply, ScoreRequest } from "../../protocols/messages.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import { settle } from "./manualClock.ts";

const enc = new TextEncoder();
const quiet = () => {};

function codeOf(r: Result.Result<unknown, ProtocolError>): string {
  if (Result.isSuccess(r)) return assert.fail("expected a decode failure");
  return r.failure.code;
}

const scoreRequest = (id: string): ScoreRequest => ({
  v: 2,
  id,
  items: [{ problem: "1+1?", steps: [], candidate: { text: "add", code: "print(1 + 1)" } }],
});

describe("decode", () => {
  it("never throws, and names the problem of each bad payload", () => {
    const cases: [Uint8Array, string, RegExp][] = [
      [enc.encode("{oops"), "BadRequest", /^Send valid JSON: /],
      [new Uint8Array([0xff, 0xfe, 0x7b]), "BadRequest", /UTF-8/],
      [enc.encode("[1,2]"), "BadRequest", /an array/],
      [enc.encode("null"), "BadRequest", /null/],
      [enc.encode(JSON.stringify({ ...scoreRequest("a"), v: 3 })), "VersionMismatch", /version 3.*speaks 2/],
      [enc.encode(JSON.stringify({ v: 2, id: "a", items: [{ problem: 1 }] })), "BadRequest", /ScoreRequest.*items/],
      [enc.encode(JSON.stringify({ id: "a", items: [] })), "BadRequest", /\["v"\]/],
      [
        enc.encode(JSON.stringify({ v: 2, id: "a", items: [], grade: [{ answer: "1", reference: "1", checks: [{ numbers: {}, answer: "1" }] }] })),
        "BadRequest",
        /checks needs the trajectory's steps/,
      ],
    ];
    for (const [bytes, code, message] of cases) {
      const r = decode(ScoreRequest, bytes);
      assert.equal(codeOf(r), code);
      assert.match((r as Result.Failure<never, ProtocolError>).failure.message, message);
    }
  });

  it("refuses a payload above the limit before parsing it", () => {
    const r = decode(ScoreRequest, enc.encode(JSON.stringify(scoreRequest("x".repeat(2000)))), { maxBytes: 1000 });
    assert.equal(codeOf(r), "TooLarge");
  });

  it("ignores unknown fields so newer peers can add optional ones", () => {
    const r = decode(ScoreRequest, enc.encode(JSON.stringify({ ...scoreRequest("a"), future: { x: 1 } })));
    assert.deepEqual(Result.getOrThrow(r), scoreRequest("a"));
  });

  it("round-trips through encode", () => {
    assert.deepEqual(Result.getOrThrow(decode(ScoreRequest, encode(ScoreRequest, scoreRequest("rt")))), scoreRequest("rt"));
  });
});

describe("serve", () => {
  it("records a bad message without a reply subject on the run's dead-letter subject", async () => {
    const bus = new InProcessBus();
    const s = runSubjects("dl");
    const letters: DeadLetter[] = [];
    bus.subscribe(s.deadletter, (m) => void letters.push(Result.getOrThrow(decode(DeadLetter, m.data))));
    const served = serve(bus, s.score, ScoreRequest, () => ({ v: 2 as const, id: "x", scores: [], scorerVersion: "t" }), {
      replySchema: ScoreReply,
      log: quiet,
    });
    bus.publish(s.score, enc.encode("not json at all"));
    await bus.flush();
    await settle();
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.subject, s.score);
    assert.equal(letters[0]!.reason, "BadRequest");
    assert.equal(letters[0]!.sample, "not json at all");
    assert.equal(letters[0]!.size, 15);
    assert.equal(served.stats.deadLettered, 1);
  });

  it("sends a handler's ProtocolError as an error reply of that code", async () => {
    const bus = new InProcessBus();
    const s = runSubjects("unavail");
    serve(bus, s.score, ScoreRequest, () => new ProtocolError({ code: "Unavailable", message: "Retry later: model loading" }), {
      replySchema: ScoreReply,
      log: quiet,
    });
    const r = await call(bus, s.score, ScoreRequest, ScoreReply, scoreRequest("u1"), { timeoutMs: 500 });
    if (Result.isSuccess(r)) return assert.fail("expected an error");
    assert.equal(r.failure._tag, "RemoteError");
    assert.isTrue(isRetryable(r.failure));
  });

  it("answers Internal when the handler returns a reply that breaks its schema", async () => {
    const bus = new InProcessBus();
    const s = runSubjects("badreply");
    serve(bus, s.score, ScoreRequest, () => ({ v: 2 as const, id: "x", scores: [7], scorerVersion: "t" }), {
      replySchema: ScoreReply,
      log: quiet,
    });
    const r = await call(bus, s.score, ScoreRequest, ScoreReply, scoreRequest("b1"), { timeoutMs: 500 });
    if (Result.isSuccess(r)) return assert.fail("expected an error");
    assert.equal(r.failure._tag === "RemoteError" && r.failure.code, "Internal");
  });

  it("refuses a request that breaks its schema with a BadRequest naming the field, without calling the handler", async () => {
    const bus = new InProcessBus();
    const s = runSubjects("badrequest");
    let handled = 0;
    serve(bus, s.score, ScoreRequest, () => {
      handled++;
      return { v: 2 as const, id: "x", scores: [0], scorerVersion: "t" };
    }, { replySchema: ScoreReply, log: quiet });
    // A caller's bug: the item's problem is a number. `call` sends it as it is; the responder checks it.
    const bad = { ...scoreRequest("q1"), items: [{ problem: 3, steps: [], candidate: { text: "t", code: "x = 1" } }] } as unknown as ScoreRequest;
    const r = await call(bus, s.score, ScoreRequest, ScoreReply, bad, { timeoutMs: 500, retries: 2 });
    if (Result.isSuccess(r)) return assert.fail("expected an error");
    assert.equal(r.failure._tag === "RemoteError" && r.failure.code, "BadRequest");
    assert.match(r.failure.message, /ScoreRequest.*problem/);
    assert.isFalse(isRetryable(r.failure));
    assert.equal(handled, 0);
  });
});

describe("serve under load", () => {
  it("answers Unavailable beyond maxInFlight, then serves again once the load drops", async () => {
    const bus = new InProcessBus();
    const s = runSubjects("shed");
    const gates: (() => void)[] = [];
    const served = serve(bus, s.score, ScoreRequest, (req) =>
      new Promise<ScoreReply>((resolve) => gates.push(() => resolve({ v: 2, id: req.id, scores: [0], scorerVersion: "t" }))), {
      replySchema: ScoreReply,
      maxInFlight: 2,
      log: quiet,
    });
    const calls = [1, 2, 3].map((i) => call(bus, s.score, ScoreRequest, ScoreReply, scoreRequest(`s${i}`), { timeoutMs: 1000 }));
    for (let i = 0; i < 50 && gates.length < 2; i++) await settle();
    const third = await calls[2]!;
    if (Result.isSuccess(third)) return assert.fail("expected the third request to be shed");
    assert.equal(third.failure._tag === "RemoteError" && third.failure.code, "Unavailable");
    for (const g of gates) g();
    assert.isTrue(Result.isSuccess(await calls[0]!) && Result.isSuccess(await calls[1]!));
    assert.equal(served.stats.shed, 1);
    assert.equal(served.stats.inFlight, 0);
    const again = call(bus, s.score, ScoreRequest, ScoreReply, scoreRequest("s4"), { timeoutMs: 1000 });
    for (let i = 0; i < 50 && gates.length < 3; i++) await settle();
    gates[2]!();
    assert.isTrue(Result.isSuccess(await again));
  });
});

describe("listen", () => {
  it("hands decoded broadcasts to the handler and dead-letters the bad ones", async () => {
    const bus = new InProcessBus();
    const s = runSubjects("hb");
    const beats: Heartbeat[] = [];
    const letters: DeadLetter[] = [];
    listen(bus, s.heartbeat, Heartbeat, (hb) => {
      if (hb.actor === "bad-handler") throw new Error("handler bug");
      beats.push(hb);
    }, { log: quiet });
    listen(bus, s.deadletter, DeadLetter, (d) => void letters.push(d), { log: quiet });
    const hb = (actor: string): Heartbeat => ({ v: 2, actor, role: "expander", pid: 1, host: "h", load: 0, versions: {} });
    publish(bus, s.heartbeat, Heartbeat, hb("bad-handler"));
    bus.publish(s.heartbeat, enc.encode(JSON.stringify({ v: 2, actor: "no-role" })));
    publish(bus, s.heartbeat, Heartbeat, hb("expander-1"));
    for (let i = 0; i < 20 && letters.length < 1; i++) await settle();
    assert.deepEqual(beats.map((b) => b.actor), ["expander-1"]);
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.reason, "BadRequest");
    assert.match(letters[0]!.message, /Heartbeat/);
  });
});

describe("call", () => {
  it("retries a timed-out request with the same request id, then succeeds", async () => {
    const bus = new InProcessBus();
    const s = runSubjects("retry");
    const ids: string[] = [];
    let n = 0;
    bus.subscribe(s.score, (m) => {
      ids.push(m.headers["Rstar-Request-Id"]!);
      if (++n < 3) return; // the first two attempts get no answer
      m.respond(encode(ScoreReply, { v: 2, id: "r1", scores: [0.5], scorerVersion: "t" }));
    });
    const waits: number[] = [];
    const r = await call(bus, s.score, ScoreRequest, ScoreReply, scoreRequest("r1"), {
      timeoutMs: 20,
      retries: 3,
      backoffMs: 10,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    assert.deepEqual(Result.getOrThrow(r).scores, [0.5]);
    assert.deepEqual(ids, ["r1", "r1", "r1"]);
    assert.deepEqual(waits, [10, 20]);
  });

  it("gives up after the retries with the bus failure as a value", async () => {
    const bus = new InProcessBus();
    const r = await call(bus, "rstar.none.score", ScoreRequest, ScoreReply, scoreRequest("g1"), {
      timeoutMs: 20,
      retries: 2,
      sleep: () => Promise.resolve(),
    });
    if (Result.isSuccess(r)) return assert.fail("expected a failure");
    assert.instanceOf(r.failure, BusError);
    assert.equal((r.failure as BusError).reason, "NoResponders");
  });

  it("does not retry a BadRequest", async () => {
    const bus = new InProcessBus();
    const s = runSubjects("noretry");
    let seen = 0;
    bus.subscribe(s.score, (m) => {
      seen++;
      m.respond(enc.encode(JSON.stringify({ v: 2, id: "x", error: { code: "BadRequest", message: "Fix it: wrong" } })));
    });
    const r = await call(bus, s.score, ScoreRequest, ScoreReply, scoreRequest("n1"), { timeoutMs: 200, retries: 3 });
    assert.isTrue(Result.isFailure(r));
    assert.equal(seen, 1);
  });
});

describe("callEffect", () => {
  it("succeeds with the reply and fails with the typed error", async () => {
    const bus = new InProcessBus();
    const s = runSubjects("effect");
    serve(bus, s.score, ScoreRequest, (req) =>
      req.id === "bad"
        ? new ProtocolError({ code: "BadRequest", message: "Send fewer items: too many" })
        : { v: 2 as const, id: req.id, scores: [0.25], scorerVersion: "t" }, { replySchema: ScoreReply, log: quiet });
    const ok = await Effect.runPromise(callEffect(bus, s.score, ScoreRequest, ScoreReply, scoreRequest("good"), { timeoutMs: 500 }));
    assert.deepEqual(ok.scores, [0.25]);
    const exit = await Effect.runPromiseExit(callEffect(bus, s.score, ScoreRequest, ScoreReply, scoreRequest("bad"), { timeoutMs: 500 }));
    assert.isTrue(Exit.isFailure(exit));
    assert.include(JSON.stringify(exit), "RemoteError");
  });
});

describe("publishEvent", () => {
  it("publishes an event on the subject of its run and kind", async () => {
    const bus = new InProcessBus();
    const got: [string, Event][] = [];
    listen(bus, runSubjects("ev").eventsAll, Event, (e, m) => void got.push([m.subject, e]), { log: quiet });
    const e: Event = { v: 2, run: "ev", kind: "round-phase", round: 2, phase: "train-ppm" };
    publishEvent(bus, e);
    for (let i = 0; i < 10 && got.length < 1; i++) await settle();
    assert.deepEqual(got, [["rstar.ev.events.round-phase", e]]);
  });
});
