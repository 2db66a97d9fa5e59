import { assert, describe, it } from "vitest";
import type { ProblemResult } from "../../actors/searchService.ts";
import type { Bus } from "../../protocols/bus.ts";
import { InProcessBus } from "../../protocols/inProcessBus.ts";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { startScriptedSystem, toyProblems } from "../helpers/scriptedSystem.ts";

const NATS = "nats://127.0.0.1:4222";
const problems = toyProblems(4, "n", (i) => String((i * 2) % 5));

async function smokeSearch(bus: Bus, run: string, withExpander: boolean): Promise<Record<string, string>> {
  const sys = startScriptedSystem({
    bus,
    run,
    roles: withExpander ? ["expander", "scorer", "searcher"] : ["scorer", "searcher"],
    requestTimeoutMs: 5000,
  });
  const results: ProblemResult[] = [];
  await sys.search!.run(
    { round: 1, mode: "train", problems, config: { rollouts: 5, k: 3, maxDepth: 4 }, usePpm: true, seed: 5, concurrency: 2 },
    (r) => {
      results.push(r);
      return Promise.resolve();
    },
  );
  await sys.stop();
  return Object.fromEntries(results.map((r) => [r.problemId, JSON.stringify(r.tree)]));
}

function spawnWorker(run: string, id: string): Deno.ChildProcess {
  return new Deno.Command("node_modules/.bin/deno", {
    args: ["run", "-A", "--quiet", "scripts/rstar.ts", "worker", "--role", "expander", "--nats", NATS, "--run", run, "--id", id],
    env: { RSTAR_TEST_POLICY: "scripted" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function waitForLine(stderr: ReadableStream<Uint8Array>, needle: string): Promise<string[]> {
  const lines: string[] = [];
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    if (buf.includes(needle)) break;
  }
  lines.push(...buf.split("\n"));
  reader.releaseLock();
  return lines;
}

describe("rstar worker over NATS", () => {
  it("the same smoke search yields identical trees in-process and over NATS with 2 worker processes", async () => {
    const run = `actors-${Deno.pid}-${Date.now()}`;
    const local = await smokeSearch(new InProcessBus(), run, true);
    const workers = [spawnWorker(run, "w1"), spawnWorker(run, "w2")];
    try {
      await Promise.all(workers.map((w) => waitForLine(w.stderr, "Worker ready")));
      const bus = await connectNatsBus(NATS, { log: () => {} });
      try {
        const remote = await smokeSearch(bus, run, false);
        assert.deepStrictEqual(Object.keys(remote).sort(), problems.map((p) => p.id));
        assert.deepStrictEqual(remote, local);
      } finally {
        await bus.close();
      }
    } finally {
      for (const w of workers) w.kill("SIGTERM");
      const codes = await Promise.all(workers.map(async (w) => {
        await w.stderr.cancel().catch(() => {});
        return (await w.status).code;
      }));
      assert.deepStrictEqual(codes, [0, 0]);
    }
  });

  it("a worker for a run name that no run holds on the server says so, and serves on", async () => {
    const run = `nobody-${Deno.pid}-${Date.now()}`;
    const worker = spawnWorker(run, "w-alone");
    try {
      const lines = await waitForLine(worker.stderr, "No run named");
      const warning = lines.map((l) => l.trim()).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((r) => r.level === "warn");
      assert.equal(
        warning?.msg,
        `No run named ${run} is running on this server now; this worker serves it once one starts (rstar evolve --nats URL with a --run folder named ${run})`,
      );
    } finally {
      worker.kill("SIGTERM");
      await worker.stderr.cancel().catch(() => {});
      assert.equal((await worker.status).code, 0);
    }
  });
});
