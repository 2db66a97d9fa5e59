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

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function startServer(port: number, dir: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("nats-server", {
    args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill("SIGKILL");
  throw new Error(`Cannot start nats-server on port ${port}: it never accepted connections`);
}

describe("NatsBus across a server restart", () => {
  const port = freePort();
  const dir = Deno.makeTempDirSync({ prefix: "rstar-nats-" });
  const url = `nats://127.0.0.1:${port}`;
  let server: Deno.ChildProcess | undefined;
  const buses: NatsBus[] = [];
  const logs: string[] = [];

  afterAll(async () => {
    for (const b of buses) await b.close().catch(() => {});
    if (server) {
      server.kill("SIGKILL");
      await server.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  });

  it("reconnects both ends and serves again after the server comes back", async () => {
    server = await startServer(port, dir);
    const worker = await connectNatsBus(url, { name: "worker", log: (e) => void logs.push(String(e.msg)) });
    const caller = await connectNatsBus(url, { name: "caller", log: () => {} });
    buses.push(worker, caller);
    const s = runSubjects("restart");
    serve(worker, s.expand, ExpandRequest, (req): ExpandReply => ({
      v: 1,
      id: req.id,
      candidates: [],
      policyVersion: "p",
      tokens: 0,
    }), { queue: QueueGroups.expander, replySchema: ExpandReplySchema, log: () => {} });
    await worker.flush();
    const req = (id: string): ExpandRequest => ({
      v: 1, id, run: s.run, problem: "p", steps: [], k: 1, temperature: 0, topP: 1, seed: 0,
    });
    assert.isTrue(Result.isSuccess(await call(caller, s.expand, ExpandRequest, ExpandReplySchema, req("before"), { timeoutMs: 2000 })));

    server.kill("SIGKILL");
    await server.status;
    server = undefined;
    const during = call(caller, s.expand, ExpandRequest, ExpandReplySchema, req("across"), {
      timeoutMs: 500,
      retries: 20,
      backoffMs: 100,
      maxBackoffMs: 400,
    });
    await new Promise((r) => setTimeout(r, 700));
    server = await startServer(port, dir);
    const r = await during;
    if (Result.isFailure(r)) return assert.fail(`the call did not survive the restart: ${r.failure.message}`);
    assert.equal(r.success.id, "across");
    assert.include(logs, "NATS disconnected");
    assert.include(logs, "NATS reconnected");
  });
});
