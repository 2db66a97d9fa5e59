/**
 * A run's NATS side: the connection (kept through outages), the object store of model versions,
 * the control subjects answered for the whole run, and the spawned `rstar worker` processes —
 * replaced when they exit or when chaos `kill-worker` kills one, and stopped with the run.
 */
import type { TinyPolicy } from "../../models/policy.ts";
import type { TinyScorer } from "../../models/ppm.ts";
import { ControlState } from "../../actors/controlState.ts";
import { codecLogTo, type Logger } from "../../actors/log.ts";
import { rejectionReporter } from "./rejections.ts";
import { serveControlState } from "../../actors/system.ts";
import type { BlobStore } from "../../protocols/bus.ts";
import { connectNatsBus, natsBlobStore, type NatsBus } from "../../protocols/natsBus.ts";
import { runSubjects, validateRunName } from "../../protocols/subjects.ts";
import { listen, publish } from "../../protocols/codec.ts";
import { Heartbeat, ModelPublished, PROTOCOL_VERSION } from "../../protocols/messages.ts";
import { claimRunName } from "./runClaim.ts";
import { stopTraining } from "./trainStateFile.ts";
import { putModel } from "../../actors/modelStore.ts";
import { toBytes } from "../../models/checkpoint.ts";
import { CommandFailed } from "../cli.ts";
import { Prng } from "../../math/prng.ts";

/** The NATS side of a run: where, under which name, and how many worker processes to spawn. */
export interface NatsOptions {
  readonly url: string;
  /** Run name (subjects `rstar.<run>.*`, object store `rstar-<run>`); see `runNameOf`. */
  readonly run: string;
  /** `rstar worker --role expander` processes to spawn (0: only the in-process actors serve). */
  readonly workers: number;
  /** Command line of worker `i` (default: this Deno running scripts/rstar.ts worker). */
  readonly workerArgs?: (i: number) => string[];
  /** Longest wait for the workers to be heard, or to report a new policy version (default 120 s). */
  readonly readyTimeoutMs?: number;
  /**
   * Longest wait for a lost NATS connection to come back before a step that needs it (publishing
   * weights for a search) gives up with an error that says to resume (default 10 minutes). The
   * connection itself is retried for as long as the run goes on: an outage while the run trains
   * or evaluates costs nothing.
   */
  readonly outageLimitMs?: number;
  /** Where the lines about bad messages from outside go (default stderr). */
  readonly warn?: (line: string) => void;
  /** Progress lines (default: none). */
  readonly note?: (line: string) => void;
  /** The run directory, named to another process that finds the run name in use (default: the run name). */
  readonly dir?: string;
}

/** How often a due kill looks again for requests in flight. */
const KILL_POLL_MS = 5;

/** Why kill-worker cannot apply to a run without worker processes. */
export const KILL_WORKER_NEEDS =
  "the run has no worker processes to kill (run it with --nats URL --workers N, N ≥ 1)";

/** The NATS run name of a run directory: its last path segment, made one NATS token, validated. */
export function runNameOf(runDir: string): string {
  const base = runDir.replace(/[\\/]+$/, "").split(/[\\/]/).pop() ?? "";
  const name = base.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64);
  const bad = validateRunName(name);
  if (bad !== undefined) throw new Error(bad.message);
  return name;
}

/** One spawned worker process with the tail of its stderr (for error messages). */
interface WorkerProcess {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  exited: boolean;
  readonly tail: string;
  readonly drained: Promise<void>;
}

/** A run's NATS connection, object store, spawned workers and what their heartbeats say. */
export interface NatsLink {
  readonly bus: NatsBus;
  readonly run: string;
  /**
   * The run's control state for the whole run: `.control.status|pause|resume|set` are answered
   * from it between searches too (training, evaluation), and every search's actors share it, so
   * knobs set and a pause hold across search passes.
   */
  readonly control: ControlState;
  /** The run's logger for codec rejections: bad messages on its subjects, reported a line per subject at most every 10 s. */
  readonly rejections: Logger;
  /** Stores a model version in the object store (once per process) and announces it on `.model`. */
  publishModel(
    name: "policy" | "ppm",
    model: TinyPolicy | TinyScorer,
    version: string,
  ): Promise<void>;
  /** Waits until every spawned worker's expander reports `version` as its policy. */
  waitForPolicy(version: string): Promise<void>;
  /**
   * Chaos `kill-worker`: SIGKILL one worker process (seeded choice) every `everyMs` of search time
   * and spawn a replacement, so the run keeps its N workers; undefined stops it.
   */
  setKillEvery(everyMs: number | undefined, seed: number): void;
  /**
   * Starts the kill clock (a search is under way). With `busy`, a kill that falls due while it
   * says false waits until it says true (requests are out), so kills land where work is held.
   */
  searchStarted(busy?: () => boolean): void;
  /** Stops the kill clock. */
  searchEnded(): void;
  /**
   * Worker processes killed by chaos, those that exited by themselves, and the replacements
   * started for both, since the last search's end (so a worker lost while the run trains is
   * counted by the next search).
   */
  killCounts(): { workerKills: number; workerExits: number; workerRestarts: number };
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function defaultWorkerArgs(url: string, run: string): (i: number) => string[] {
  const main = new URL("../rstar.ts", import.meta.url).pathname;
  return (i) => [
    "run",
    "-A",
    "--quiet",
    main,
    "worker",
    "--role",
    "expander",
    "--nats",
    url,
    "--run",
    run,
    "--id",
    `${run}-w${i}`,
    // A worker whose evolve process is killed (SIGKILL leaves it no time to stop them) goes too.
    "--exit-with-parent",
  ];
}

function spawnWorker(args: string[]): WorkerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const out = { tail: "" };
  const drained = (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of child.stderr) {
        out.tail = (out.tail + dec.decode(chunk, { stream: true })).slice(-2000);
      }
    } catch {
      // The stream was cancelled at shutdown.
    }
  })();
  const w: WorkerProcess = {
    child,
    pid: child.pid,
    exited: false,
    get tail() {
      return out.tail;
    },
    drained,
  };
  void child.status.then(() => (w.exited = true));
  return w;
}

/** A worker's last `n` stderr lines, joined by " | ", its JSON log lines as their message (and error). */
function lastLines(tail: string, n: number): string {
  return tail.trim().split("\n").slice(-n).map((line) => {
    try {
      const e = JSON.parse(line) as { msg?: unknown; error?: unknown };
      if (typeof e.msg === "string") {
        return e.error === undefined ? e.msg : `${e.msg}: ${String(e.error)}`;
      }
    } catch {
      // A plain line.
    }
    return line;
  }).join(" | ");
}

/** SIGTERM, then wait (SIGKILL after `graceMs`); never leaves the process behind. */
async function stopWorker(w: WorkerProcess, graceMs = 15_000): Promise<void> {
  if (!w.exited) {
    try {
      w.child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceMs)));
  const first = await Promise.race([w.child.status.then(() => "done" as const), late]);
  clearTimeout(timer);
  if (first === "late") {
    try {
      w.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await w.child.status;
  }
  await w.drained;
}

/** Connects, clears the `latest` pointers, spawns the workers and waits until each is heard. */
export async function startNatsLink(o: NatsOptions): Promise<NatsLink> {
  const run = o.run;
  const bad = validateRunName(run);
  if (bad !== undefined) throw new Error(bad.message);
  const timeoutMs = o.readyTimeoutMs ?? 120_000;
  let bus: NatsBus;
  try {
    let lostAt = 0;
    bus = await connectNatsBus(o.url, {
      name: `rstar-evolve-${run}`,
      log: (e) => {
        if (e.msg === "NATS disconnected") {
          lostAt = Date.now();
          o.note?.(
            `NATS connection to ${o.url} lost; reconnecting (the run goes on; a search waits for it)`,
          );
        } else if (e.msg === "NATS reconnected") {
          o.note?.(
            `NATS connection to ${o.url} back after ${((Date.now() - lostAt) / 1000).toFixed(1)} s`,
          );
        }
      },
    });
  } catch (err) {
    throw new CommandFailed(
      `Cannot connect to NATS at ${o.url}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  // One process at a time uses a run name on a server.
  const claim = await claimRunName(bus.nc, run, o.dir ?? run, (line) => o.note?.(line)).catch(
    async (err) => {
      await bus.close();
      throw new CommandFailed(
        `Cannot claim run name ${run} on NATS at ${o.url}: ${
          err instanceof Error ? err.message : String(err)
        }`,
      );
    },
  );
  if ("_tag" in claim) {
    await bus.close();
    throw new CommandFailed(claim.message);
  }
  const workers: WorkerProcess[] = [];
  /**
   * Workers SIGKILLed by chaos or gone by themselves, each replaced (reaped at close); a heartbeat
   * of theirs still in flight is ignored.
   */
  const retired: WorkerProcess[] = [];
  const onSignal = (sig: Deno.Signal) => () => {
    const stops = [stopTraining(), ...[...workers, ...retired].map((w) => stopWorker(w, 5_000))];
    void Promise.all(stops).finally(() => Deno.exit(sig === "SIGINT" ? 130 : 143));
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => ({ sig, fn: onSignal(sig) }));
  let blobs: BlobStore;
  const heard = new Map<number, { policy: string | undefined; at: number }>();
  const control = new ControlState(run);
  const rejections = rejectionReporter(o.warn ?? console.error);
  const hbSub = listen(bus, runSubjects(run).heartbeat, Heartbeat, (hb) => {
    if (retired.some((w) => w.pid === hb.pid)) return;
    if (hb.role === "expander") heard.set(hb.pid, { policy: hb.versions.policy, at: Date.now() });
    control.seeWorker({
      id: hb.actor,
      role: hb.role,
      host: hb.host,
      pid: hb.pid,
      load: hb.load,
      lastSeen: Date.now(),
    });
    for (const [name, version] of Object.entries(hb.versions)) control.setModel(name, version);
  }, { log: codecLogTo(rejections) });
  const controlSubs = serveControlState(bus, run, control, rejections);
  const published = new Set<string>();
  const args = o.workerArgs ?? defaultWorkerArgs(o.url, run);
  // Chaos kill-worker: a clock that runs only while a search is under way.
  const killer = {
    everyMs: undefined as number | undefined,
    rng: undefined as Prng | undefined,
    leftMs: 0,
    timer: undefined as ReturnType<typeof setTimeout> | undefined,
    armedAt: 0,
    searching: false,
    busy: undefined as (() => boolean) | undefined,
    nextIndex: o.workers,
  };
  /** Workers killed, exited by themselves and replaced: totals, and the totals at the last search's end. */
  const lost = { kills: 0, exits: 0, restarts: 0 };
  let lostBefore = { ...lost };
  /** Takes `w` out of the run (it is dead or about to be) and starts a worker in its place. */
  const replace = (w: WorkerProcess): WorkerProcess => {
    workers.splice(workers.indexOf(w), 1);
    retired.push(w);
    control.forgetWorker(w.pid);
    const replacement = spawnWorker(args(killer.nextIndex++));
    watch(replacement);
    workers.push(replacement);
    lost.restarts++;
    return replacement;
  };
  /**
   * A worker that exits by itself after joining (an out-of-memory kill, a stray signal) is
   * replaced, so the run keeps its N workers; what it held is sent again after the request
   * deadline. One that exits before it ever joined cannot start, and stops the run (`until`).
   */
  const watch = (w: WorkerProcess) =>
    void w.child.status.then((st) => {
      if (closed || !workers.includes(w) || !heard.has(w.pid)) return;
      lost.exits++;
      // A worker that failed says why on its last line; one killed by a signal had no say.
      const last = st.signal === null ? lastLines(w.tail, 1) : undefined;
      const how = st.signal !== null
        ? `killed by ${st.signal}`
        : `exit code ${st.code}${last ? `: ${last}` : ""}`;
      const replacement = replace(w);
      o.note?.(`worker ${w.pid} exited (${how}); started worker ${replacement.pid} in its place`);
    });
  const killOne = () => {
    // Only workers that have joined (sent a heartbeat) can hold requests; a tick with none is skipped.
    const joined = workers.filter((w) => heard.has(w.pid));
    if (joined.length === 0 || killer.rng === undefined) return;
    const w = joined[killer.rng.int(joined.length)]!;
    const replacement = replace(w);
    try {
      w.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    lost.kills++;
    o.note?.(`chaos: killed worker ${w.pid}, started worker ${replacement.pid}`);
  };
  const arm = () => {
    if (!killer.searching || killer.everyMs === undefined || killer.timer !== undefined || closed) {
      return;
    }
    killer.armedAt = Date.now();
    killer.timer = setTimeout(() => {
      killer.timer = undefined;
      if (killer.busy !== undefined && !killer.busy()) {
        // Due, but no request is out: look again shortly, without starting a new period.
        killer.leftMs = KILL_POLL_MS;
        arm();
        return;
      }
      killer.leftMs = killer.everyMs ?? 0;
      killOne();
      arm();
    }, killer.leftMs);
  };
  const disarm = () => {
    if (killer.timer === undefined) return;
    clearTimeout(killer.timer);
    killer.timer = undefined;
    killer.leftMs = Math.max(0, killer.leftMs - (Date.now() - killer.armedAt));
  };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    disarm();
    try {
      await Promise.all([...workers, ...retired].map((w) => stopWorker(w)));
    } finally {
      for (const h of handlers) {
        try {
          Deno.removeSignalListener(h.sig, h.fn);
        } catch {
          // Not added.
        }
      }
      hbSub.unsubscribe();
      for (const sub of controlSubs) sub.unsubscribe();
      await claim.release();
      await bus.close();
    }
  };
  const failIfExited = () => {
    // A worker that joined and then exited is replaced by `watch`; one that never joined cannot start.
    const dead = workers.find((w) => w.exited && !heard.has(w.pid));
    if (dead) {
      throw new CommandFailed(
        `Cannot run over NATS: worker ${dead.pid} exited: ${lastLines(dead.tail, 3)}`,
      );
    }
  };
  /** Waits for a lost connection to come back, saying so every 30 s, up to `outageLimitMs`. */
  const connected = async (what: string) => {
    const t0 = Date.now();
    const limitMs = o.outageLimitMs ?? 600_000;
    if (!bus.isConnected()) {
      o.note?.(`waiting for the NATS server at ${o.url} to come back before ${what}`);
    }
    while (!(await bus.whenConnected(Math.min(30_000, Math.max(1, limitMs - (Date.now() - t0)))))) {
      const s = Math.round((Date.now() - t0) / 1000);
      if (bus.nc.isClosed()) {
        throw new CommandFailed(
          `Cannot run over NATS: the connection to ${o.url} is closed (before ${what})`,
        );
      }
      if (Date.now() - t0 >= limitMs) {
        throw new CommandFailed(
          `Cannot run over NATS: the server at ${o.url} has been unreachable for ${s} s (waiting before ${what}); start it, then continue the run with rstar evolve --resume`,
        );
      }
      o.note?.(`still waiting for the NATS server at ${o.url} (${s} s)`);
    }
  };
  const until = async (what: string, ok: () => boolean) => {
    const t0 = Date.now();
    while (!ok()) {
      failIfExited();
      if (Date.now() - t0 > timeoutMs) {
        throw new CommandFailed(
          `Cannot run over NATS: timed out after ${timeoutMs} ms waiting for ${what}`,
        );
      }
      await sleep(100);
    }
  };
  try {
    blobs = await natsBlobStore(bus.nc, `rstar-${run}`);
    // Workers start on the bootstrap policy; each search announces the version it needs.
    await blobs.delete("models/policy/latest");
    await blobs.delete("models/ppm/latest");
    if (o.workers > 0) { for (const h of handlers) Deno.addSignalListener(h.sig, h.fn); }
    for (let i = 0; i < o.workers; i++) {
      const w = spawnWorker(args(i));
      watch(w);
      workers.push(w);
    }
    const t0 = Date.now();
    await until(
      `${o.workers} workers to send heartbeats`,
      () => workers.every((w) => heard.has(w.pid)),
    );
    if (o.workers > 0) {
      o.note?.(
        `${o.workers} workers joined run ${run} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    bus,
    run,
    control,
    rejections,
    async publishModel(name, model, version) {
      if (!published.has(`${name}/${version}`)) {
        await connected(`publishing ${version}`);
        try {
          const blob = await putModel(blobs, name, version, toBytes(model, { version }));
          publish(bus, runSubjects(run).model, ModelPublished, {
            v: PROTOCOL_VERSION,
            name,
            version,
            blob,
          });
          await bus.flush();
        } catch (err) {
          throw new CommandFailed(
            `Cannot publish ${name} ${version} to the object store rstar-${run} at ${o.url}: ${
              err instanceof Error ? err.message : String(err)
            }; continue the run with rstar evolve --resume once NATS is back`,
          );
        }
        published.add(`${name}/${version}`);
      }
    },
    async waitForPolicy(version) {
      await until(
        `the workers to load policy ${version}`,
        () => workers.every((w) => heard.get(w.pid)?.policy === version),
      );
    },
    setKillEvery(everyMs, seed) {
      disarm();
      killer.everyMs = everyMs;
      if (everyMs === undefined) return;
      killer.rng ??= Prng.fromSeed(`kill-worker:${seed}`);
      killer.leftMs = everyMs;
      arm();
    },
    searchStarted(busy) {
      killer.searching = true;
      killer.busy = busy;
      arm();
    },
    searchEnded() {
      disarm();
      killer.searching = false;
      killer.busy = undefined;
      lostBefore = { ...lost };
    },
    killCounts() {
      return {
        workerKills: lost.kills - lostBefore.kills,
        workerExits: lost.exits - lostBefore.exits,
        workerRestarts: lost.restarts - lostBefore.restarts,
      };
    },
    close,
  };
}
