/**
 * Bus benchmarks: the median round-trip time of a small request/reply (an ExpandRequest and its
 * ExpandReply, encoded and decoded through the protocol schemas with `serve` and `call`) over the
 * in-process bus and over NATS (RSTAR_NATS_URL, default nats://127.0.0.1:4222; the responder and
 * the caller use separate connections), after a warm-up.
 */
import type { BenchFigure } from "./index.ts";
import { Result } from "effect";
import type { Bus } from "../../protocols/bus.ts";
import { call, serve } from "../../protocols/codec.ts";
import { InProcessBus } from "../../protocols/inProcessBus.ts";
import { type ExpandReply, ExpandReply as ExpandReplySchema, ExpandRequest, PROTOCOL_VERSION } from "../../protocols/messages.ts";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { QueueGroups, runSubjects } from "../../protocols/subjects.ts";

/** One figure, as the bench registry reads it. */
export type BusFigure = BenchFigure;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median request/reply round trip in microseconds between `server` and `client` on run `run`. */
export async function measureRttUs(server: Bus, client: Bus, run: string, warmup: number, samples: number): Promise<{
  medianUs: number;
  p90Us: number;
}> {
  const s = runSubjects(run);
  const sub = serve(server, s.expand, ExpandRequest, (req): ExpandReply => ({
    v: PROTOCOL_VERSION,
    id: req.id,
    results: [{
      candidates: [{ step: { text: "Print the sum", code: "print(a + b)" }, stdout: "5\n", terminal: true, answer: "5", logprob: -0.3 }],
      policyVersion: "bench",
      tokens: 12,
    }],
  }), { queue: QueueGroups.expander, replySchema: ExpandReplySchema, log: () => {} });
  await server.flush();
  const times: number[] = [];
  try {
    for (let i = 0; i < warmup + samples; i++) {
      const req: ExpandRequest = {
        v: PROTOCOL_VERSION,
        id: `bench-${i}`,
        run,
        problem: "Ann has 2 apples and buys 3 more. How many apples does she have now?",
        asks: [{ steps: [{ text: "Name the quantities", code: "a = 2\nb = 3" }], seed: i }],
        k: 4,
        temperature: 0.8,
        topP: 0.95,
      };
      const t0 = performance.now();
      const r = await call(client, s.expand, ExpandRequest, ExpandReplySchema, req, { timeoutMs: 5000 });
      const dt = performance.now() - t0;
      if (Result.isFailure(r)) throw new Error(`Cannot measure the bus round trip: ${r.failure.message}`);
      if (i >= warmup) times.push(dt * 1000);
    }
  } finally {
    await sub.drain();
  }
  const sorted = times.slice().sort((a, b) => a - b);
  return { medianUs: median(times), p90Us: sorted[Math.floor(sorted.length * 0.9)]! };
}

/** `bus.rtt_us.inproc` and `bus.rtt_us.nats` (request/reply medians, microseconds). */
export async function benchBus(opts: { quick: boolean }): Promise<BusFigure[]> {
  const warmup = opts.quick ? 50 : 200;
  const samples = opts.quick ? 300 : 2000;
  const figures: BusFigure[] = [];

  const inproc = new InProcessBus();
  const a = await measureRttUs(inproc, inproc, "bench-inproc", warmup, samples);
  await inproc.close();
  figures.push({ name: "bus.rtt_us.inproc", value: round1(a.medianUs), unit: "us", detail: { p90Us: round1(a.p90Us), samples } });

  const url = Deno.env.get("RSTAR_NATS_URL") ?? "nats://127.0.0.1:4222";
  const server = await connectNatsBus(url, { name: "bench-bus-server", log: () => {}, maxReconnectAttempts: 0 });
  const client = await connectNatsBus(url, { name: "bench-bus-client", log: () => {}, maxReconnectAttempts: 0 });
  try {
    const n = await measureRttUs(server, client, `bench-bus-${Deno.pid}`, warmup, samples);
    figures.push({ name: "bus.rtt_us.nats", value: round1(n.medianUs), unit: "us", detail: { p90Us: round1(n.p90Us), samples, url } });
  } finally {
    await client.close();
    await server.close();
  }
  return figures;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

if (import.meta.main) {
  for (const f of await benchBus({ quick: Deno.args.includes("--quick") })) console.log(JSON.stringify(f));
}
