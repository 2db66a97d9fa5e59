/**
 * Bad input from a raw NATS client (`@nats-io/transport-node` directly, bypassing our schemas):
 * every bad message gets an error reply or a dead-letter record, and the worker keeps serving.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Result } from "effect";
import { afterAll, assert, beforeAll, describe, it } from "vitest";
import { Headers } from "../../protocols/bus.ts";
import { decode, type Served, serve } from "../../protocols/codec.ts";
import { DeadLetter, ErrorReply, type ExpandReply, ExpandReply as ExpandReplySchema, ExpandRequest } from "../../protocols/messages.ts";
import { connectNatsBus, type NatsBus } from "../../protocols/natsBus.ts";
import { QueueGroups, runSubjects } from "../../protocols/subjects.ts";

const NATS_URL = "nats://127.0.0.1:4222";
const s = runSubjects(`raw-${Deno.pid}`);

describe("a worker facing a raw NATS client", () => {
  let worker: NatsBus;
  let raw: NatsConnection;
  let served: Served;

  beforeAll(async () => {
    worker = await connectNatsBus(NATS_URL, { name: "raw-test-worker", log: () => {} });
    served = serve(worker, s.expand, ExpandRequest, (req): ExpandReply => ({
      v: 2,
      id: req.id,
      results: [{ candidates: [], policyVersion: "scripted", tokens: req.k }],
    }), { queue: QueueGroups.expander, replySchema: ExpandReplySchema, maxBytes: 32 * 1024, log: () => {} });
    await worker.flush();
    raw = await connect({ servers: NATS_URL, name: "raw-test-client" });
  });

  afterAll(async () => {
    await raw?.close();
    await worker?.close();
  });

  async function errorFor(payload: string | Uint8Array): Promise<{ code: string; message: string; header?: string }> {
    const m = await raw.request(s.expand, payload, { timeout: 3000 });
    const r = decode(ErrorReply, m.data);
    if (Result.isFailure(r)) return assert.fail(`expected an ErrorReply: ${r.failure.message}`);
    const header = m.headers?.get(Headers.errorCode);
    return { ...r.success.error, ...(header ? { header } : {}) };
  }

  const good = (id: string) => JSON.stringify({ v: 2, id, run: s.run, problem: "1+1", asks: [{ steps: [], seed: 1 }], k: 3, temperature: 1, topP: 1 });

  it("answers malformed JSON with BadRequest", async () => {
    const e = await errorFor("{\"v\":1,");
    assert.equal(e.code, "BadRequest");
    assert.equal(e.header, "BadRequest");
  });

  it("answers a wrong schema with BadRequest naming the field", async () => {
    const e = await errorFor(JSON.stringify({ v: 2, id: "x", run: s.run, problem: 5 }));
    assert.equal(e.code, "BadRequest");
    assert.match(e.message, /problem/);
  });

  it("answers a wrong protocol version with VersionMismatch", async () => {
    const e = await errorFor(JSON.stringify({ ...JSON.parse(good("v")), v: 99 }));
    assert.equal(e.code, "VersionMismatch");
    assert.match(e.message, /99/);
  });

  it("answers an oversized payload with TooLarge", async () => {
    const e = await errorFor(new Uint8Array(64 * 1024).fill(0x20));
    assert.equal(e.code, "TooLarge");
  });

  it("records bad messages without a reply subject on the dead-letter subject", async () => {
    const letters: DeadLetter[] = [];
    const sub = raw.subscribe(s.deadletter, {
      callback: (_err, m) => void letters.push(Result.getOrThrow(decode(DeadLetter, m.data))),
    });
    await raw.flush();
    raw.publish(s.expand, "definitely { not json");
    raw.publish(s.expand, JSON.stringify({ v: 0 }));
    await raw.flush();
    for (let i = 0; i < 200 && letters.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    sub.unsubscribe();
    assert.deepEqual(letters.map((l) => l.reason).sort(), ["BadRequest", "VersionMismatch"]);
    assert.isTrue(letters.every((l) => l.subject === s.expand));
  });

  it("keeps serving real requests through a flood of 10,000 garbage requests, with bounded memory", async () => {
    const before = served.stats.rejected;
    const rssBefore = Deno.memoryUsage().rss;
    const window = 1000;
    for (let w = 0; w < 10; w++) {
      const garbage = Array.from({ length: window }, (_, i) => raw.request(s.expand, `garbage ${w}/${i}`, { timeout: 10_000 }));
      const real = raw.request(s.expand, good(`real-${w}`), { timeout: 10_000 });
      const replies = await Promise.all(garbage);
      assert.equal(replies.length, window);
      assert.equal(JSON.parse(new TextDecoder().decode((await real).data)).id, `real-${w}`);
    }
    assert.equal(served.stats.rejected - before, 10_000);
    const growthMb = (Deno.memoryUsage().rss - rssBefore) / 2 ** 20;
    assert.isBelow(growthMb, 256, `resident memory grew by ${growthMb.toFixed(0)} MB`);
    const ok = await raw.request(s.expand, good("after-flood"), { timeout: 3000 });
    const reply = JSON.parse(new TextDecoder().decode(ok.data));
    assert.equal(reply.id, "after-flood");
    assert.equal(reply.results[0].tokens, 3);
    assert.equal(ok.headers?.get(Headers.requestId), "after-flood");
  });
});
