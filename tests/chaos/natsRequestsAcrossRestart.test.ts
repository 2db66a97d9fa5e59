/**
 * What a NatsBus request does when the server goes away: one waiting for its reply fails at once
 * as `Disconnected` (so a caller retries instead of waiting out its deadline), and one made while
 * the client reconnects is sent once the server is back, and answered. Runs a private
 * `nats-server` (own port and store directory), stopped by pid.
 */
import { afterAll, assert, describe, it } from "vitest";
import { join } from "node:path";
import type { BusError } from "../../protocols/bus.ts";
import { connectNatsBus, type NatsBus } from "../../protocols/natsBus.ts";
import { freePort, killHard, startNatsServer } from "../helpers/evolveProcess.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("NatsBus requests across a server restart", () => {
  const root = Deno.makeTempDirSync({ prefix: "rstar-nats-requests-" });
  const port = freePort();
  const url = `nats://127.0.0.1:${port}`;
  let server: Deno.ChildProcess | undefined;
  const buses: NatsBus[] = [];

  afterAll(async () => {
    for (const b of buses) await b.close().catch(() => {});
    if (server) await killHard(server);
    await Deno.remove(root, { recursive: true }).catch(() => {});
  });

  it("fails a request in flight as Disconnected and sends one made while reconnecting once the server is back", async () => {
    server = await startNatsServer(port, join(root, "store"));
    const responder = await connectNatsBus(url, { name: "responder", log: () => {} });
    const caller = await connectNatsBus(url, { name: "caller", log: () => {} });
    buses.push(responder, caller);
    responder.subscribe("rq.silent", () => {});
    // Served on the caller's own connection, so the responder is back as soon as the caller is.
    caller.subscribe("rq.echo", (m) => void m.respond(enc.encode(`echo ${dec.decode(m.data)}`)));
    await responder.flush();
    await caller.flush();

    const inFlight = caller.request("rq.silent", enc.encode("a"), { timeoutMs: 30_000 }).then(
      () => "replied",
      (e: BusError) => e.reason,
    );
    await caller.flush();
    await killHard(server);
    server = undefined;
    assert.equal(await inFlight, "Disconnected", "the waiting request fails with the connection, not at its 30 s deadline");
    assert.isFalse(caller.isConnected());
    assert.isFalse(await caller.whenConnected(200), "no connection while the server is down");
    const back = caller.whenConnected(20_000);

    const during = caller.request("rq.echo", enc.encode("b"), { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 500));
    server = await startNatsServer(port, join(root, "store"));
    assert.equal(dec.decode((await during).data), "echo b", "the request made while reconnecting was sent and answered");
    assert.isTrue(await back, "a wait for the connection ends when it is back");
    assert.isTrue(caller.isConnected());
    assert.deepEqual(caller.connectionStats(), { disconnects: 1, reconnects: 1, requestsFailedByDisconnect: 1 });
  });
});
