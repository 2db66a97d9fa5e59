/**
 * One contract suite, run against both transports: the in-process bus and NATS on
 * 127.0.0.1:4222 (each test under its own run prefix). Whatever an actor relies on is here.
 */
import { Result } from "effect";
import { afterAll, assert, beforeAll, describe, it } from "vitest";
import { type BlobStore, type Bus, BusError, type BusMessage, Headers } from "../../protocols/bus.ts";
import { call, decode, encode, serve } from "../../protocols/codec.ts";
import { InMemoryBlobStore, InProcessNetwork } from "../../protocols/inProcessBus.ts";
import { ErrorReply, ExpandReply, ExpandRequest, PROTOCOL_VERSION } from "../../protocols/messages.ts";
import { connectNatsBus, type NatsBus, natsBlobStore } from "../../protocols/natsBus.ts";
import { QueueGroups, runSubjects } from "../../protocols/subjects.ts";

const NATS_URL = "nats://127.0.0.1:4222";
const enc = new TextEncoder();
const dec = new TextDecoder();
const quiet = () => {};

interface Transport {
  readonly name: string;
  bus(): Promise<Bus>;
  blobStore(): Promise<BlobStore>;
  cleanup(): Promise<void>;
}

const network = new InProcessNetwork({ onHandlerError: quiet });
const inproc: Transport = {
  name: "inproc",
  bus: () => Promise.resolve(network.connect()),
  blobStore: () => Promise.resolve(new InMemoryBlobStore()),
  cleanup: () => Promise.resolve(),
};

function natsTransport(): Transport {
  const opened: NatsBus[] = [];
  const bucket = `rstar-contract-${Deno.pid}`;
  return {
    name: "nats",
    async bus() {
      const b = await connectNatsBus(NATS_URL, { name: "contract-test", log: quiet, maxReconnectAttempts: 0 });
      opened.push(b);
      return b;
    },
    async blobStore() {
      const b = await this.bus() as NatsBus;
      return natsBlobStore(b.nc, bucket);
    },
    async cleanup() {
      if (opened.length > 0) {
        const { Objm } = await import("@nats-io/obj");
        const nc = opened[0]!.nc;
        if (!nc.isClosed()) {
          await (await new Objm(nc).open(bucket).catch(() => undefined))?.destroy().catch(() => {});
        }
      }
      await Promise.all(opened.map((b) => b.close()));
    },
  };
}

let runCounter = 0;
/** A fresh run name per test, so tests never see each other's messages on a shared server. */
function freshRun(transport: string): string {
  return `contract-${transport}-${Deno.pid}-${++runCounter}`;
}

/** Resolves when `cond()` holds; fails the test after `ms`. */
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function expandRequest(id: string, run: string): ExpandRequest {
  return { v: PROTOCOL_VERSION, id, run, problem: "What is 2 + 3?", asks: [{ steps: [], seed: 7 }], k: 2, temperature: 1, topP: 0.95 };
}

function expandReply(req: ExpandRequest): ExpandReply {
  return {
    v: PROTOCOL_VERSION,
    id: req.id,
    results: [{
      candidates: [{ step: { text: "add", code: "print(2 + 3)" }, stdout: "5\n", terminal: true, answer: "5", logprob: -0.5 }],
      policyVersion: "scripted",
      tokens: 9,
    }],
  };
}

for (const transport of [inproc, natsTransport()]) {
  describe(`Bus contract (${transport.name})`, () => {
    let bus: Bus;
    beforeAll(async () => {
      bus = await transport.bus();
    });
    afterAll(async () => {
      await transport.cleanup();
    });

    it("publish reaches every plain subscriber with its headers intact", async () => {
      const s = runSubjects(freshRun(transport.name));
      const got: BusMessage[][] = [[], []];
      bus.subscribe(s.heartbeat, (m) => void got[0]!.push(m));
      bus.subscribe(s.heartbeat, (m) => void got[1]!.push(m));
      await bus.flush();
      bus.publish(s.heartbeat, enc.encode("hello"), { headers: { "X-Trace": "abc-1", [Headers.requestId]: "r-9" } });
      await until(() => got[0]!.length === 1 && got[1]!.length === 1);
      for (const list of got) {
        assert.equal(dec.decode(list[0]!.data), "hello");
        assert.equal(list[0]!.headers["X-Trace"], "abc-1");
        assert.equal(list[0]!.headers[Headers.requestId], "r-9");
        assert.equal(list[0]!.subject, s.heartbeat);
      }
    });

    it("'*' matches one token and '>' matches the rest", async () => {
      const s = runSubjects(freshRun(transport.name));
      const star: string[] = [];
      const rest: string[] = [];
      bus.subscribe(`${s.prefix}.events.*`, (m) => void star.push(m.subject));
      bus.subscribe(s.all, (m) => void rest.push(m.subject));
      await bus.flush();
      bus.publish(s.events("node-expanded"), enc.encode("{}"));
      bus.publish(`${s.prefix}.events.deep.er`, enc.encode("{}"));
      bus.publish(s.expand, enc.encode("{}"));
      await until(() => rest.length === 3);
      await sleep(30);
      assert.deepEqual(star, [s.events("node-expanded")]);
      assert.deepEqual(rest.sort(), [s.events("node-expanded"), `${s.prefix}.events.deep.er`, s.expand].sort());
    });

    it("a queue group delivers each message to exactly one member and spreads the load", async () => {
      const s = runSubjects(freshRun(transport.name));
      const seen: [string, number][] = [];
      for (const member of ["a", "b"]) {
        bus.subscribe(s.expand, (m) => void seen.push([member, Number(dec.decode(m.data))]), { queue: QueueGroups.expander });
      }
      await bus.flush();
      const n = 40;
      for (let i = 0; i < n; i++) bus.publish(s.expand, enc.encode(String(i)));
      await until(() => seen.length >= n);
      await sleep(30);
      assert.equal(seen.length, n);
      assert.deepEqual(seen.map(([, i]) => i).sort((x, y) => x - y), [...Array(n).keys()]);
      assert.isAbove(seen.filter(([m]) => m === "a").length, 0);
      assert.isAbove(seen.filter(([m]) => m === "b").length, 0);
    });

    it("request() resolves with the responder's reply and headers", async () => {
      const s = runSubjects(freshRun(transport.name));
      bus.subscribe(s.score, (m) => {
        m.respond(enc.encode(`echo:${dec.decode(m.data)}`), { "X-Echo": m.headers["X-In"] ?? "none" });
      });
      await bus.flush();
      const reply = await bus.request(s.score, enc.encode("ping"), { timeoutMs: 2000, headers: { "X-In": "h1" } });
      assert.equal(dec.decode(reply.data), "echo:ping");
      assert.equal(reply.headers["X-Echo"], "h1");
    });

    it("request() rejects with Timeout when nobody answers before the deadline", async () => {
      const s = runSubjects(freshRun(transport.name));
      bus.subscribe(s.score, () => {});
      await bus.flush();
      const err = await bus.request(s.score, enc.encode("x"), { timeoutMs: 150 }).then(() => undefined, (e) => e);
      assert.instanceOf(err, BusError);
      assert.equal((err as BusError).reason, "Timeout");
    });

    it("request() rejects with NoResponders when nobody listens", async () => {
      const s = runSubjects(freshRun(transport.name));
      const err = await bus.request(s.train, enc.encode("x"), { timeoutMs: 2000 }).then(() => undefined, (e) => e);
      assert.instanceOf(err, BusError);
      assert.equal((err as BusError).reason, "NoResponders");
    });

    it("a handler that throws does not stop its subscription", async () => {
      const s = runSubjects(freshRun(transport.name));
      let calls = 0;
      bus.subscribe(s.score, (m) => {
        calls++;
        if (dec.decode(m.data) === "boom") throw new Error("handler bug");
        m.respond(enc.encode("ok"));
      });
      await bus.flush();
      bus.publish(s.score, enc.encode("boom"));
      const reply = await bus.request(s.score, enc.encode("fine"), { timeoutMs: 2000 });
      assert.equal(dec.decode(reply.data), "ok");
      assert.equal(calls, 2);
    });

    it("drain() waits for in-flight handlers, and close() makes requests fail with Closed", async () => {
      const own = await transport.bus();
      const s = runSubjects(freshRun(transport.name));
      let started = 0;
      let finished = 0;
      own.subscribe(s.expand, async () => {
        started++;
        await sleep(80);
        finished++;
      });
      await own.flush();
      bus.publish(s.expand, enc.encode("1"));
      bus.publish(s.expand, enc.encode("2"));
      await until(() => started === 2);
      await own.drain();
      assert.equal(finished, 2);
      const err = await own.request(s.expand, enc.encode("x"), { timeoutMs: 500 }).then(() => undefined, (e) => e);
      assert.instanceOf(err, BusError);
      assert.equal((err as BusError).reason, "Closed");
      const other = await transport.bus();
      await other.close();
      const err2 = await other.request(s.expand, enc.encode("x"), { timeoutMs: 500 }).then(() => undefined, (e) => e);
      assert.equal((err2 as BusError).reason, "Closed");
    });

    it("once close() resolves, no request is routed to the closed connection: the others answer them all", async () => {
      const s = runSubjects(freshRun(transport.name));
      const worker = await transport.bus();
      worker.subscribe(s.score, (m) => void m.respond(enc.encode("alive")), { queue: QueueGroups.scorer });
      await worker.flush();
      for (let round = 0; round < 10; round++) {
        const doomed = await transport.bus();
        doomed.subscribe(s.score, (m) => void m.respond(enc.encode("doomed")), { queue: QueueGroups.scorer });
        await doomed.flush();
        await doomed.close();
        for (let i = 0; i < 4; i++) {
          const reply = await bus.request(s.score, enc.encode("q"), { timeoutMs: 2000 });
          assert.equal(dec.decode(reply.data), "alive");
        }
      }
    });

    it("the blob store puts, gets, lists and deletes blobs, a 5 MB one included", async () => {
      const store = await transport.blobStore();
      const prefix = freshRun(transport.name);
      const big = new Uint8Array(5 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 10)) & 0xff;
      await store.put(`${prefix}/small`, enc.encode("weights v1"));
      await store.put(`${prefix}/big`, big);
      assert.equal(dec.decode((await store.get(`${prefix}/small`))!), "weights v1");
      const back = (await store.get(`${prefix}/big`))!;
      assert.equal(back.length, big.length);
      assert.isTrue(back.every((b, i) => b === big[i]));
      await store.put(`${prefix}/small`, enc.encode("weights v2"));
      assert.equal(dec.decode((await store.get(`${prefix}/small`))!), "weights v2");
      const listed = (await store.list()).filter((n) => n.startsWith(`${prefix}/`));
      assert.deepEqual(listed, [`${prefix}/big`, `${prefix}/small`]);
      await store.delete(`${prefix}/big`);
      await store.delete(`${prefix}/never-stored`);
      assert.isUndefined(await store.get(`${prefix}/big`));
      assert.deepEqual((await store.list()).filter((n) => n.startsWith(`${prefix}/`)), [`${prefix}/small`]);
    });

    it("serve() answers malformed JSON, wrong schema, wrong version and oversized payloads with error replies, and keeps serving", async () => {
      const s = runSubjects(freshRun(transport.name));
      const served = serve(bus, s.expand, ExpandRequest, (req) => expandReply(req), {
        queue: QueueGroups.expander,
        replySchema: ExpandReply,
        maxBytes: 64 * 1024,
        log: quiet,
      });
      await bus.flush();
      const ask = async (payload: Uint8Array) => {
        const m = await bus.request(s.expand, payload, { timeoutMs: 2000 });
        const r = decode(ErrorReply, m.data);
        if (Result.isFailure(r)) return assert.fail(`expected an ErrorReply: ${r.failure.message}`);
        return { reply: r.success, header: m.headers[Headers.errorCode] };
      };
      const bad = await ask(enc.encode("{not json"));
      assert.equal(bad.reply.error.code, "BadRequest");
      assert.match(bad.reply.error.message, /JSON/);
      assert.equal(bad.header, "BadRequest");

      const wrongShape = await ask(enc.encode(JSON.stringify({ v: 2, id: "w1", run: s.run, problem: "p", asks: "none", k: 0 })));
      assert.equal(wrongShape.reply.error.code, "BadRequest");
      assert.equal(wrongShape.reply.id, "w1");
      assert.match(wrongShape.reply.error.message, /ExpandRequest/);
      assert.match(wrongShape.reply.error.message, /asks/);

      const wrongVersion = await ask(enc.encode(JSON.stringify({ ...expandRequest("w2", s.run), v: 1 })));
      assert.equal(wrongVersion.reply.error.code, "VersionMismatch");
      assert.match(wrongVersion.reply.error.message, /version 1/);
      assert.match(wrongVersion.reply.error.message, /speaks 2/);

      const huge = await ask(enc.encode(JSON.stringify({ ...expandRequest("w3", s.run), problem: "x".repeat(100_000) })));
      assert.equal(huge.reply.error.code, "TooLarge");

      const good = await call(bus, s.expand, ExpandRequest, ExpandReply, expandRequest("ok-1", s.run), { timeoutMs: 2000 });
      if (Result.isFailure(good)) return assert.fail(good.failure.message);
      assert.equal(good.success.results[0]!.candidates[0]!.answer, "5");
      assert.equal(served.stats.rejected, 4);
      assert.equal(served.stats.served, 1);
    });

    it("call() turns an error reply into a RemoteError and a handler crash into Internal", async () => {
      const s = runSubjects(freshRun(transport.name));
      serve(bus, s.expand, ExpandRequest, (req) => {
        if (req.id === "crash") throw new Error("model exploded");
        return expandReply(req);
      }, { replySchema: ExpandReply, log: quiet });
      await bus.flush();
      const r = await call(bus, s.expand, ExpandRequest, ExpandReply, expandRequest("crash", s.run), { timeoutMs: 2000 });
      if (Result.isSuccess(r)) return assert.fail("expected a failure");
      const e = r.failure;
      assert.equal(e._tag, "RemoteError");
      assert.equal(e._tag === "RemoteError" && e.code, "Internal");
      assert.match(e.message, /model exploded/);
      const ok = await call(bus, s.expand, ExpandRequest, ExpandReply, expandRequest("fine", s.run), { timeoutMs: 2000 });
      assert.isTrue(Result.isSuccess(ok));
    });

    it("publish() refuses a payload above the transport's maximum (1 MiB by default)", () => {
      const s = runSubjects(freshRun(transport.name));
      assert.throws(() => bus.publish(s.expand, new Uint8Array(1024 * 1024 + 1)), RangeError);
    });

    it("a reply above the maximum size reaches the caller as an error reply saying so, not as a timeout", async () => {
      const s = runSubjects(freshRun(transport.name));
      bus.subscribe(s.score, (m) => void m.respond(new Uint8Array(1024 * 1024 + 1), { [Headers.requestId]: "big-1" }));
      await bus.flush();
      const reply = await bus.request(s.score, enc.encode("{}"), { timeoutMs: 2000 });
      assert.equal(reply.headers[Headers.errorCode], "BadRequest");
      assert.equal(reply.headers[Headers.requestId], "big-1");
      assert.match(dec.decode(reply.data), /Ask for less: the reply of 1048577 bytes exceeds the maximum message size of 1048576/);
    });

    it("encode() output decodes back to the same message", () => {
      const req = expandRequest("rt", "r1");
      const r = decode(ExpandRequest, encode(ExpandRequest, req));
      assert.deepEqual(Result.getOrThrow(r), req);
    });
  });
}
