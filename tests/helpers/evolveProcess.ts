/**
 * Helpers of the tests that run processes: a private `nats-server` on its own port and store
 * directory (also for the NATS reconnect tests), `rstar evolve` as a subprocess whose stderr
 * lines can be waited on, the run's worker processes, removal of a run's object store from the
 * shared server, and the ledger accounting (every problem recorded exactly once).
 */
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { Objm } from "@nats-io/obj";
import { assert } from "vitest";
import { resolveConfig } from "../../scripts/run/config.ts";
import type { RunSummary } from "../../scripts/run/summary.ts";

/** The project's `deno` binary, to run `scripts/rstar.ts` in a subprocess. */
export const deno = join(Deno.cwd(), "node_modules", ".bin", "deno");
/** The environment of such a subprocess: this cache directory. */
export const env = { DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.cwd(), ".cache", "deno") };
/** The shared NATS server with JetStream (`RSTAR_NATS_URL`, default 127.0.0.1:4222). */
export const natsUrl = Deno.env.get("RSTAR_NATS_URL") ?? "nats://127.0.0.1:4222";

/** A TCP port nobody listens on right now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts `nats-server -js` on `port` with its store in `dir`; resolves once it accepts connections. */
export async function startNatsServer(port: number, dir: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("nats-server", {
    args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`Cannot start nats-server on port ${port}: it never accepted connections`);
}

/** SIGKILLs a process (if still running) and waits for it. */
export async function killHard(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
  await child.status;
}

/** A running `rstar evolve` subprocess. */
export interface EvolveProcess {
  readonly child: Deno.ChildProcess;
  /** Stderr so far. */
  stderr(): string;
  /** Resolves with the first stderr line matching `re` (rejects if the process ends first). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Waits for the exit; returns the code and the whole stderr. */
  finished(): Promise<{ code: number; stderr: string }>;
}

/** Starts `rstar evolve ARGS` (stdout discarded, stderr collected line by line). */
export function startEvolve(args: readonly string[], extraEnv: Record<string, string> = {}): EvolveProcess {
  const child = new Deno.Command(deno, {
    args: ["run", "-A", "--quiet", "scripts/rstar.ts", "evolve", ...args],
    env: { ...env, ...extraEnv },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  const check = () => {
    const lines = text.split("\n");
    for (const w of waiters.splice(0)) {
      const hit = lines.find((l) => w.re.test(l));
      if (hit !== undefined) w.resolve(hit);
      else waiters.push(w);
    }
  };
  const drained = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) {
      text += dec.decode(chunk, { stream: true });
      check();
    }
  })();
  const status = child.status;
  return {
    child,
    stderr: () => text,
    waitForLine(re, timeoutMs = 60_000) {
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`No stderr line matched ${re} in ${timeoutMs} ms:\n${text.slice(-1500)}`)), timeoutMs);
        const done = (line: string) => {
          clearTimeout(timer);
          resolve(line);
        };
        waiters.push({ re, resolve: done });
        check();
        void status.then(async () => {
          await drained;
          check();
          if (waiters.some((w) => w.resolve === done)) {
            clearTimeout(timer);
            reject(new Error(`evolve exited before a stderr line matched ${re}:\n${text.slice(-1500)}`));
          }
        });
      });
    },
    async finished() {
      const s = await status;
      await drained;
      return { code: s.code, stderr: text };
    },
  };
}

/**
 * Waits for `evolve` to exit and checks its run in `runDir`: exit code 0, finished, nothing lost,
 * every training problem recorded exactly once. Returns the run's summary and the whole stderr.
 */
export async function finishedWithNothingLost(evolve: EvolveProcess, runDir: string): Promise<{ summary: RunSummary; stderr: string }> {
  const { code, stderr } = await evolve.finished();
  assert.equal(code, 0, stderr.slice(-3000));
  const summary = JSON.parse(await Deno.readTextFile(join(runDir, "summary.json"))) as RunSummary;
  assert.isTrue(summary.finished);
  assert.equal(summary.lost, 0);
  assert.isUndefined(await accountingProblem(runDir));
  return { summary, stderr };
}

/** Pids of live `rstar.ts worker` processes of NATS run `run`. */
export async function workerPids(run: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let cmd: string;
    try {
      cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).split("\0").join(" ");
    } catch {
      continue;
    }
    if (cmd.includes("rstar.ts worker") && cmd.includes(`--run ${run} `)) pids.push(Number(e.name));
  }
  return pids;
}

/**
 * Stops an evolve process that is still running (SIGTERM, which stops its workers; SIGKILL after
 * 10 s), then SIGKILLs any worker of `run` left behind.
 */
export async function stopEvolve(p: EvolveProcess, run: string): Promise<void> {
  try {
    p.child.kill("SIGTERM");
  } catch {
    // Already gone.
  }
  const late = setTimeout(() => {
    try {
      p.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, 10_000);
  await p.child.status;
  clearTimeout(late);
  for (const pid of await workerPids(run)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Removes run `run`'s object store (`rstar-<run>`) from the server at `url` (default `natsUrl`). */
export async function removeRunStore(run: string, url = natsUrl): Promise<void> {
  const nc = await connect({ servers: url.replace(/^nats:\/\//, "") });
  try {
    const objm = new Objm(nc);
    for await (const s of objm.list()) if (s.bucket === `rstar-${run}`) await (await objm.open(s.bucket)).destroy();
  } finally {
    await nc.close();
  }
}

/** The events of a run's ledger. */
export async function ledgerEvents(runDir: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(join(runDir, "ledger.jsonl"));
  return text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

/**
 * Checks that a finished one-round smoke run recorded each of its training problems exactly once
 * in the first search pass, and no (round, phase, problem) twice; returns an error text or undefined.
 */
export async function accountingProblem(runDir: string, rounds = 1): Promise<string | undefined> {
  const events = await ledgerEvents(runDir);
  const searched = events.filter((e) => e.type === "problem-searched").map((e) => `${e.round}:${e.phase}:${e.problemId}`);
  const seen = new Set<string>();
  const twice = searched.filter((k) => (seen.has(k) ? true : (seen.add(k), false)));
  if (twice.length > 0) return `recorded more than once: ${twice.join(", ")}`;
  const config = resolveConfig("smoke", { rounds });
  for (let r = 1; r <= rounds; r++) {
    const expected = r === 1 ? config.train.firstRoundProblems ?? config.train.problemsPerRound : config.train.problemsPerRound;
    const firstPass = searched.filter((k) => k.startsWith(`${r}:train:`)).length;
    if (firstPass !== expected) return `round ${r}: ${firstPass} training problems recorded, expected ${expected}`;
  }
  return undefined;
}

/** Summed `faults-recorded` counters of a run's ledger. */
export async function recordedFaults(runDir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const e of await ledgerEvents(runDir)) {
    if (e.type !== "faults-recorded") continue;
    for (const [k, v] of Object.entries(e.counters as Record<string, number>)) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}
