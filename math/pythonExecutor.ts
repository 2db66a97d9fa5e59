/**
 * A `StepExecutor` that runs steps as real Python, for code models whose steps go beyond the
 * built-in step language. Never the default: selected with `--executor python`.
 *
 * A pool of long-lived `python3 -I` workers, each running a small driver (below) that speaks one
 * JSON line per request on stdin/stdout: `{"prefix": [code...], "code": code}` →
 * `{"ok", "stdout", "error"?: {kind, message, line}, "recycle"?}`. For every request the driver
 * builds a fresh namespace, runs the prefix steps (their output discarded), then the new step,
 * and reports only the new step's output. Limits:
 * - time: a per-step deadline on this side; a worker that misses it is killed and replaced;
 * - memory: `RLIMIT_AS` set by the driver (a `MemoryError` also recycles the worker);
 * - output: at most `maxOutputChars` characters of stdout per step;
 * - network: the driver replaces socket creation with a function that raises;
 * - files: each worker runs in its own temporary directory, emptied after every request and
 *   removed with the worker.
 * The driver's own channel is a duplicate of the original stdin/stdout; file descriptors 0 and 1
 * point at /dev/null, so user code cannot read or corrupt the protocol.
 *
 * These limits stop runaway steps, not hostile ones: a step runs with this user's rights and can
 * read and write files outside its directory, start processes (`subprocess`), and reach the
 * network from them. Isolation is the caller's: a container or a user without rights.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { ExecError, ExecResult, Step, StepExecutor } from "./contracts.ts";

const DRIVER = String.raw`
import builtins, io, json, os, resource, shutil, socket, sys
_dumps, _loads = json.dumps, json.loads

def _setup():
    mem = int(sys.argv[1])
    if mem > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    def blocked(*args, **kwargs):
        raise PermissionError("network access is disabled")
    class NoSocket:
        def __init__(self, *args, **kwargs):
            raise PermissionError("network access is disabled")
    import _socket
    for mod in (socket, _socket):
        mod.socket = NoSocket
        for name in ("create_connection", "socketpair", "fromfd", "getaddrinfo", "create_server"):
            if hasattr(mod, name):
                setattr(mod, name, blocked)
    proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    sys.stdin = open(os.devnull, "r")
    sys.stdout = open(os.devnull, "w")
    return proto_in, proto_out

class OutputLimit(Exception):
    pass

class CappedOut(io.StringIO):
    def __init__(self, cap):
        super().__init__()
        self.cap, self.used = cap, 0
    def write(self, s):
        self.used += len(s)
        if self.used > self.cap:
            raise OutputLimit("output is longer than %d characters" % self.cap)
        return super().write(s)

KINDS = (
    (ZeroDivisionError, "ZeroDivisionError"),
    (NameError, "NameError"),
    (TypeError, "TypeError"),
    (ValueError, "ValueError"),
    (MemoryError, "LimitExceeded"),
    (RecursionError, "LimitExceeded"),
    (OutputLimit, "LimitExceeded"),
)

def run_code(code, ns, fname, out):
    try:
        compiled = compile(code, fname, "exec")
    except SyntaxError as e:
        return {"kind": "SyntaxError", "message": "%s: %s" % (type(e).__name__, e.msg), "line": e.lineno or 1}
    except (ValueError, MemoryError, RecursionError) as e:
        return {"kind": "SyntaxError", "message": "%s: %s" % (type(e).__name__, e), "line": 1}
    saved = sys.stdout
    sys.stdout = out
    try:
        exec(compiled, ns)
        return None
    except BaseException as e:
        line, tb = 1, e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == fname:
                line = tb.tb_lineno
            tb = tb.tb_next
        kind = "Unsupported"
        for cls, name in KINDS:
            if isinstance(e, cls):
                kind = name
                break
        text = str(e)
        message = "%s: %s" % (type(e).__name__, text) if text else type(e).__name__
        err = {"kind": kind, "message": message[:500], "line": line}
        if isinstance(e, MemoryError):
            err["recycle"] = True
        return err
    finally:
        sys.stdout = saved

def handle(req, cap):
    ns = {"__name__": "__main__", "__builtins__": dict(vars(builtins))}
    for i, code in enumerate(req["prefix"]):
        err = run_code(code, ns, "<step %d>" % (i + 1), CappedOut(cap))
        if err is not None:
            err["message"] = "Earlier step %d failed: %s" % (i + 1, err["message"])
            return {"ok": False, "stdout": "", "error": err}
    out = CappedOut(cap)
    err = run_code(req["code"], ns, "<step>", out)
    if err is not None:
        return {"ok": False, "stdout": out.getvalue(), "error": err}
    return {"ok": True, "stdout": out.getvalue()}

def clean(workdir):
    os.chdir(workdir)
    for entry in os.listdir(workdir):
        path = os.path.join(workdir, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.remove(path)
            except OSError:
                pass

def main():
    cap = int(sys.argv[2])
    workdir = os.getcwd()
    proto_in, proto_out = _setup()
    proto_out.write(_dumps({"ready": True}) + "\n")
    proto_out.flush()
    for line in proto_in:
        try:
            res = handle(_loads(line), cap)
        except BaseException as e:
            res = {"ok": False, "stdout": "", "error": {"kind": "Unsupported", "message": "Driver failed: %r" % (e,), "line": 1}}
        if res.get("error", {}).pop("recycle", False):
            res["recycle"] = True
        clean(workdir)
        proto_out.write(_dumps(res) + "\n")
        proto_out.flush()

main()
`;

/** Settings of a `PythonExecutor`. */
export interface PythonExecutorOptions {
  /** Worker processes; default 2. */
  readonly poolSize?: number;
  /** Deadline for one step (prefix included), in milliseconds; default 5000. */
  readonly timeoutMs?: number;
  /** Address-space limit per worker in bytes (`RLIMIT_AS`); default 1 GiB; 0 = none. */
  readonly memoryBytes?: number;
  /** Most stdout characters one step may print; default 65536. */
  readonly maxOutputChars?: number;
  /** Python interpreter; default "python3". */
  readonly python?: string;
}

/** True when `python` (default "python3") starts. */
export function pythonAvailable(python = "python3"): boolean {
  const r = spawnSync(python, ["-I", "-c", "pass"], { stdio: "ignore", timeout: 10_000 });
  return r.status === 0;
}

interface WireReply {
  readonly ok: boolean;
  readonly stdout: string;
  readonly error?: ExecError;
  readonly recycle?: boolean;
}

interface Pending {
  readonly resolve: (reply: WireReply) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

const failure = (kind: ExecError["kind"], message: string): WireReply => ({
  ok: false,
  stdout: "",
  error: { kind, message, line: 1 },
  recycle: true,
});

/** One `python3 -I` process running the driver in its own temporary directory. */
class PythonWorker {
  private readonly proc: ChildProcess;
  private readonly dir: string;
  private buf = "";
  private stderr = "";
  private pending: Pending | undefined;
  private started = false;
  private readonly startWaiters: (() => void)[] = [];
  dead = false;

  constructor(python: string, memoryBytes: number, maxOutputChars: number) {
    this.dir = mkdtempSync(join(tmpdir(), "rstar-py-"));
    this.proc = spawn(python, ["-I", "-c", DRIVER, String(memoryBytes), String(maxOutputChars)], {
      cwd: this.dir,
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8" },
    });
    this.proc.stdout!.setEncoding("utf8");
    this.proc.stdout!.on("data", (chunk: string) => this.onData(chunk));
    this.proc.stderr!.setEncoding("utf8");
    this.proc.stderr!.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-2000);
    });
    this.proc.stdin!.on("error", () => {/* reported through "exit" */});
    this.proc.on("error", (err) => this.onExit(`cannot start ${python}: ${err.message}`));
    this.proc.on("exit", (code, signal) => this.onExit(`exited with ${signal ?? `code ${code}`}`));
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let reply: WireReply;
      if (!this.started && line === '{"ready": true}') {
        this.started = true;
        for (const wake of this.startWaiters.splice(0)) wake();
        continue;
      }
      try {
        reply = JSON.parse(line) as WireReply;
      } catch {
        reply = failure("Unsupported", `Cannot read the Python worker's reply: ${JSON.stringify(line.slice(0, 80))}`);
      }
      this.settle(reply);
    }
  }

  private onExit(why: string): void {
    if (this.dead) return;
    this.dead = true;
    for (const wake of this.startWaiters.splice(0)) wake();
    this.settle(failure("Unsupported", `Python worker ${why}${this.stderrTail()}`));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private settle(reply: WireReply): void {
    const p = this.pending;
    if (p === undefined) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  /** Resolves once the driver has started (or the process died), so start-up is not step time. */
  private whenStarted(): Promise<void> {
    if (this.started || this.dead) return Promise.resolve();
    return new Promise((resolve) => this.startWaiters.push(resolve));
  }

  /** Runs one request; a missed deadline kills this worker and answers LimitExceeded. */
  async run(prefix: readonly string[], code: string, timeoutMs: number): Promise<WireReply> {
    await this.whenStarted();
    if (this.dead) return failure("Unsupported", `Python worker is not running${this.stderrTail()}`);
    return new Promise<WireReply>((resolve) => {
      const timer = setTimeout(() => {
        this.settle(failure("LimitExceeded", `Step ran past the time limit: ${timeoutMs} ms`));
        this.kill();
      }, timeoutMs);
      this.pending = { resolve, timer };
      this.proc.stdin!.write(JSON.stringify({ prefix, code }) + "\n");
    });
  }

  private stderrTail(): string {
    const tail = this.stderr.trim().split("\n").slice(-1)[0] ?? "";
    return tail ? `: ${tail}` : "";
  }

  /** Kills the process and removes its directory. */
  kill(): void {
    if (!this.dead) {
      this.proc.kill("SIGKILL");
      this.onExit("was killed");
    }
  }
}

/** Runs steps in a pool of `python3 -I` processes (limited, not isolated: see above). */
export class PythonExecutor implements StepExecutor {
  readonly name = "python";
  private readonly poolSize: number;
  private readonly timeoutMs: number;
  private readonly memoryBytes: number;
  private readonly maxOutputChars: number;
  private readonly python: string;
  private readonly idle: PythonWorker[] = [];
  private readonly busy = new Set<PythonWorker>();
  private readonly waiters: ((w: PythonWorker | undefined) => void)[] = [];
  private closed = false;

  constructor(options: PythonExecutorOptions = {}) {
    this.poolSize = Math.max(1, options.poolSize ?? 2);
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.memoryBytes = options.memoryBytes ?? 1024 ** 3;
    this.maxOutputChars = options.maxOutputChars ?? 65_536;
    this.python = options.python ?? "python3";
  }

  /** Why this executor cannot run steps here (no python3 to start, say), or undefined when it can. */
  async unavailable(): Promise<string | undefined> {
    try {
      const out = await new Deno.Command(this.python, { args: ["-I", "-c", "import sys; print(sys.version_info[0])"], stdout: "piped", stderr: "piped" })
        .output();
      const major = new TextDecoder().decode(out.stdout).trim();
      if (out.success && major === "3") return undefined;
      return `${this.python} did not run as Python 3 (exit ${out.code}${major ? `, version ${major}` : ""})`;
    } catch (err) {
      return `cannot start ${this.python}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  /** Runs the prefix steps, then `step`; reports the step's stdout or its error as a value. */
  async runStep(prefix: readonly Step[], step: Step): Promise<ExecResult> {
    const worker = await this.acquire();
    if (worker === undefined) {
      return { ok: false, stdout: "", error: { kind: "Unsupported", message: "Python executor was closed", line: 1 } };
    }
    const reply = await worker.run(prefix.map((s) => s.code), step.code, this.timeoutMs);
    this.release(worker, reply);
    return reply.error === undefined
      ? { ok: reply.ok, stdout: reply.stdout }
      : { ok: false, stdout: reply.stdout, error: reply.error };
  }

  /** Kills every worker; steps still waiting for a worker answer an error. */
  close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.idle, ...this.busy]) w.kill();
    this.idle.length = 0;
    this.busy.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    return Promise.resolve();
  }

  private acquire(): Promise<PythonWorker | undefined> {
    if (this.closed) throw new Error("Cannot run a step: the Python executor is closed");
    const ready = this.idle.pop();
    if (ready !== undefined) {
      this.busy.add(ready);
      return Promise.resolve(ready);
    }
    if (this.busy.size < this.poolSize) {
      const w = this.spawn();
      this.busy.add(w);
      return Promise.resolve(w);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(worker: PythonWorker, reply: WireReply): void {
    this.busy.delete(worker);
    if (this.closed) return worker.kill();
    let next = worker;
    if (worker.dead || reply.recycle) {
      worker.kill();
      next = this.spawn();
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      this.busy.add(next);
      waiter(next);
    } else {
      this.idle.push(next);
    }
  }

  private spawn(): PythonWorker {
    return new PythonWorker(this.python, this.memoryBytes, this.maxOutputChars);
  }
}
