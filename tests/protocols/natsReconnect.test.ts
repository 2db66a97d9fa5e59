/**
 * A NATS server killed mid-run and restarted: clients reconnect by themselves, and a call that
 * retries rides over the outage. Runs its own `nats-server` on a free port and stops it by pid.
 */
import { Result } from "effect";
import { afterAll, assert, describe, it } from "vitest";
import { call, serve } from "../../protocols/codec.ts";
import { type ExpandReply, ExpandReply as ExpandReplySchema, ExpandRequest } from "../../protocols/messages.ts";
import { connectNatsBus, type NatsBus } from "../../protocols/natsBus.ts";
import { QueueGroups, runSubjects } from "../../protocols/subjects.ts";
import { freePort, killHard, startNatsServer } from "../helpers/evolveProcess.ts";

describe("NatsBus across a server restart", () => {
  const port = freePort();
  const dir = Deno.makeTempDirSync({ prefix: "rstar-nats-" });
  const url = `nats://127.0.0.1:${port}`;
  let server: Deno.ChildProcess | undefined;
  const buses: NatsBus[] = [];
  const logs: string[] = [];

  afterAll(async () => {
    for (const b of buses) await b.close().catch(() => {});
    if (server) await killHard(server);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  });

  it("reconnects both ends and serves again after the server comes back", async () => {
    server = await startNatsServer(port, dir);
    const worker = await connectNatsBus(url, { name: "worker", log: (e) => void logs.push(String(e.msg)) });
    const caller = await connectNatsBus(url, { name: "caller", log: () => {} });
    buses.push(worker, caller);
    const s = runSubjects("restart");
    serve(worker, s.expand, ExpandRequest, (req): ExpandReply => ({
      v: 2,
      id: req.id,
      results: [{ candidates: [], policyVersion: "p", tokens: 0 }],
    }), { queue: QueueGroups.expander, replySchema: ExpandReplySchema, log: () => {} });
    await worker.flush();
    const req = (id: string): ExpandRequest => ({
      v: 2, id, run: s.run, problem: "p", asks: [{ steps: [], seed: 0 }], k: 1, temperature: 0, topP: 1,
    });
    assert.isTrue(Result.isSuccess(await call(caller, s.expand, ExpandRequest, ExpandReplySchema, req("before"), { timeoutMs: 2000 })));

    await killHard(server);
    server = undefined;
    const during = call(caller, s.expand, ExpandRequest, ExpandReplySchema, req("across"), {
      timeoutMs: 500,
      retries: 20,
      backoffMs: 100,
      maxBackoffMs: 400,
    });
    await new Promise((r) => setTimeout(r, 700));
    server = await startNatsServer(port, dir);
    const r = await during;
    if (Result.isFailure(r)) return assert.fail(`the call did not survive the restart: ${r.failure.message}`);
    assert.equal(r.success.id, "across");
    assert.include(logs, "NATS disconnected");
    assert.include(logs, "NATS reconnected");
  });
});
