/**
 * The run directory: everything one `rstar evolve` run owns, in one folder.
 *
 *   config.json                   the full resolved config, format version, seed
 *   ledger.jsonl                  append-only, fsync'd event log (scripts/run/ledger.ts)
 *   checkpoints/round-K/policy/   the policy after round K
 *   checkpoints/round-K/ppm/      the PPM after round K
 *   round-K/                      exports: sft.jsonl, ppm_pairs.jsonl, sample-tree.json
 *   summary.json                  built from the ledger (scripts/run/summary.ts)
 *   report.html                   self-contained report (scripts/run/report.ts)
 *   run.lock                      while a process runs the run: its pid, host and start
 *
 * See docs/RUN_DIRECTORY.md for the formats.
 */
import { dirname, join, resolve } from "node:path";

/** Format version of run directories written by this code. */
export const RUN_FORMAT_VERSION = 1;

/** Paths inside a run directory. */
export interface RunPaths {
  readonly root: string;
  readonly config: string;
  readonly ledger: string;
  readonly summary: string;
  readonly report: string;
  /** Held by the process that runs the run (`lockRunDirectory`). */
  readonly lock: string;
  /** Checkpoint folders of round K. */
  checkpoints(round: number): { readonly policy: string; readonly ppm: string };
  /** Export folder of round K. */
  roundDir(round: number): string;
}

/** The paths of the run directory at `root`. */
export function runPaths(root: string): RunPaths {
  return {
    root,
    config: join(root, "config.json"),
    ledger: join(root, "ledger.jsonl"),
    summary: join(root, "summary.json"),
    report: join(root, "report.html"),
    lock: join(root, "run.lock"),
    checkpoints: (round) => ({
      policy: join(root, "checkpoints", `round-${round}`, "policy"),
      ppm: join(root, "checkpoints", `round-${round}`, "ppm"),
    }),
    roundDir: (round) => join(root, `round-${round}`),
  };
}

/** What `config.json` holds: the format version, the seed, and the resolved config. */
export interface RunConfigFile<C> {
  readonly format: "rstar-run";
  readonly formatVersion: number;
  readonly seed: number;
  readonly createdAt: string;
  readonly config: C;
}

/** Why a run directory could not be created or opened. */
export type RunDirError =
  | { readonly _tag: "RunDirMissing"; readonly path: string; readonly message: string }
  | { readonly _tag: "RunDirExists"; readonly path: string; readonly message: string }
  | { readonly _tag: "RunDirUnwritable"; readonly path: string; readonly message: string }
  | {
    readonly _tag: "RunDirIncompatible";
    readonly file: string;
    readonly found: unknown;
    readonly expected: number;
    readonly message: string;
  }
  | { readonly _tag: "RunDirCorrupt"; readonly file: string; readonly message: string }
  | { readonly _tag: "RunDirLocked"; readonly file: string; readonly holder: LockHolder; readonly message: string };

/** An opened run directory. */
export interface RunDirectory<C> {
  readonly _tag: "RunDirectory";
  readonly paths: RunPaths;
  readonly file: RunConfigFile<C>;
  /** The outermost folder `createRunDirectory` made (the root or a parent of it), if it made any. */
  readonly created?: string;
}

/** True when `path` exists and is not a folder. */
function isFile(path: string): boolean {
  try {
    return !Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** The outermost of `path` and its parents that does not exist yet, if any. */
function firstMissing(path: string): string | undefined {
  let missing: string | undefined;
  for (let p = resolve(path); !exists(p); p = dirname(p)) {
    missing = p;
    if (dirname(p) === p) break;
  }
  return missing;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Writes a file atomically: a temporary sibling, fsync, then rename over the target. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const h = Deno.openSync(tmp, { write: true, create: true, truncate: true });
  try {
    let off = 0;
    while (off < bytes.length) off += h.writeSync(bytes.subarray(off));
    h.syncSync();
  } finally {
    h.close();
  }
  Deno.renameSync(tmp, path);
}

/** Creates a new run directory with its config; an existing run there is a `RunDirExists` error. */
export function createRunDirectory<C>(root: string, seed: number, config: C): RunDirectory<C> | RunDirError {
  const paths = runPaths(root);
  const refuse = (why: string): RunDirError => ({ _tag: "RunDirExists", path: root, message: `Cannot create run directory ${root}: ${why}` });
  if (root.trim() === "") return { _tag: "RunDirUnwritable", path: root, message: "Cannot create run directory: --run is empty" };
  let created: string | undefined;
  try {
    if (isFile(root)) return refuse("it is a file");
    if (exists(paths.config)) return refuse("it already holds a run (use --resume, or another --run)");
    if (exists(root) && [...Deno.readDirSync(root)].length > 0) {
      return refuse("it holds other files (a run goes in a new or empty folder)");
    }
    created = firstMissing(root);
    Deno.mkdirSync(root, { recursive: true });
    Deno.mkdirSync(join(root, "checkpoints"), { recursive: true });
    const file: RunConfigFile<C> = {
      format: "rstar-run",
      formatVersion: RUN_FORMAT_VERSION,
      seed,
      createdAt: new Date().toISOString(),
      config,
    };
    writeFileAtomic(paths.config, JSON.stringify(file, null, 2) + "\n");
    return { _tag: "RunDirectory", paths, file, ...(created === undefined ? {} : { created }) };
  } catch (err) {
    // A parent that is a file, no permission, a read-only or full disk: say so, and leave nothing behind.
    if (!Object.values(Deno.errors).some((E) => err instanceof E)) throw err;
    removeUnstartedRun(paths, created);
    const why = err instanceof Error ? err.message.replace(/ \(os error \d+\).*$/, "") : String(err);
    return { _tag: "RunDirUnwritable", path: root, message: `Cannot create run directory ${root}: ${why}` };
  }
}

/**
 * Removes what `createRunDirectory` and a run that never got going wrote (config, ledger, the
 * empty checkpoints folder) and the folders it made (`created`: the root, and its parents up to
 * that one) when nothing else is in them.
 */
export function removeUnstartedRun(paths: RunPaths, created?: string): void {
  const folders: string[] = [];
  for (let p = resolve(paths.root); created !== undefined && p.startsWith(created) && p !== dirname(p); p = dirname(p)) {
    folders.push(p);
  }
  for (const path of [paths.ledger, paths.config, join(paths.root, "checkpoints"), ...folders]) {
    try {
      Deno.removeSync(path); // not recursive: a folder that holds anything stays
    } catch {
      // Not there, or not empty.
    }
  }
}

/**
 * Opens an existing run directory, checking its format version and, with `check`, its config
 * (which returns what is wrong with it, naming the setting, or undefined).
 */
export function openRunDirectory<C>(
  root: string,
  check?: (config: unknown) => string | undefined,
): RunDirectory<C> | RunDirError {
  const paths = runPaths(root);
  if (root.trim() === "") return { _tag: "RunDirMissing", path: root, message: "Cannot open run directory: --run is empty" };
  if (!exists(root)) {
    return { _tag: "RunDirMissing", path: root, message: `Cannot open run directory ${root}: it does not exist` };
  }
  if (isFile(root)) {
    return { _tag: "RunDirMissing", path: root, message: `Cannot open run directory ${root}: it is a file (not a run directory)` };
  }
  if (!exists(paths.config)) {
    return {
      _tag: "RunDirMissing",
      path: paths.config,
      message: `Cannot open run directory ${root}: ${paths.config} is missing (not a run directory)`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Deno.readTextFileSync(paths.config));
  } catch (err) {
    return {
      _tag: "RunDirCorrupt",
      file: paths.config,
      message: `Cannot read ${paths.config}: ${(err as Error).message}`,
    };
  }
  const f = parsed as Partial<RunConfigFile<C>>;
  if (typeof f !== "object" || f === null || f.format !== "rstar-run") {
    return {
      _tag: "RunDirCorrupt",
      file: paths.config,
      message: `Cannot read ${paths.config}: not an rstar run config (format field is missing)`,
    };
  }
  if (f.formatVersion !== RUN_FORMAT_VERSION) {
    return {
      _tag: "RunDirIncompatible",
      file: paths.config,
      found: f.formatVersion,
      expected: RUN_FORMAT_VERSION,
      message: `Cannot open ${paths.config}: format version ${
        JSON.stringify(f.formatVersion)
      } is not supported (this build reads version ${RUN_FORMAT_VERSION})`,
    };
  }
  if (typeof f.seed !== "number" || typeof f.config !== "object" || f.config === null) {
    return {
      _tag: "RunDirCorrupt",
      file: paths.config,
      message: `Cannot read ${paths.config}: seed or config is missing`,
    };
  }
  const problem = check?.(f.config);
  if (problem !== undefined) {
    return { _tag: "RunDirCorrupt", file: paths.config, message: `Cannot use ${paths.config}: setting ${problem}` };
  }
  return { _tag: "RunDirectory", paths, file: f as RunConfigFile<C> };
}

/** True when `path` exists. */
export function pathExists(path: string): boolean {
  return exists(path);
}

/** Who holds a run directory's lock. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** When the holder took the lock (ISO time). */
  readonly since: string;
  /** The holder's start time in clock ticks since boot (Linux), which a reused pid does not share. */
  readonly started?: string;
}

/** A held run-directory lock. */
export interface RunLock {
  /** Removes the lock file (if it is still this lock). */
  release(): void;
}

/** This process's start time from `/proc` (Linux), or undefined where there is none. */
function processStart(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces) start after the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** This process, as a lock holder. */
export function thisProcess(): LockHolder {
  const started = processStart(Deno.pid);
  return { pid: Deno.pid, host: Deno.hostname(), since: new Date().toISOString(), ...(started === undefined ? {} : { started }) };
}

/**
 * Whether a lock's holder still runs: a live process with that pid and start time (Linux). A
 * holder on another host, or on a system without `/proc`, cannot be checked and counts as alive.
 */
export function holderAlive(h: LockHolder): boolean {
  if (h.host !== Deno.hostname()) return true; // another machine's process: cannot tell, so held
  if (!exists("/proc/self/stat")) return true; // no /proc: cannot tell, so held
  const started = processStart(h.pid);
  return started !== undefined && (h.started === undefined || h.started === started);
}

/** The holder recorded in a lock file, or undefined when it cannot be read (a torn write). */
export function readLockHolder(path: string): LockHolder | undefined {
  try {
    const h = JSON.parse(Deno.readTextFileSync(path)) as Partial<LockHolder>;
    if (typeof h.pid !== "number" || typeof h.host !== "string" || typeof h.since !== "string") return undefined;
    return h as LockHolder;
  } catch {
    return undefined;
  }
}

/** Who runs the run at `paths` now: the lock's holder when it is alive, else undefined. */
export function runningHolder(paths: RunPaths): LockHolder | undefined {
  const h = readLockHolder(paths.lock);
  return h !== undefined && holderAlive(h) ? h : undefined;
}

/**
 * Takes the run directory's lock for this process, so that no second process runs the same run
 * (two would record every problem twice and write the same checkpoints). A lock left by a process
 * that is gone (killed, crashed) is taken over; one held by a live process is a `RunDirLocked`
 * error naming it.
 */
export function lockRunDirectory(paths: RunPaths): RunLock | RunDirError {
  const me = thisProcess();
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const f = Deno.openSync(paths.lock, { write: true, createNew: true });
      try {
        f.writeSync(new TextEncoder().encode(JSON.stringify(me) + "\n"));
      } finally {
        f.close();
      }
      const release = () => {
        globalThis.removeEventListener("unload", release);
        const h = readLockHolder(paths.lock);
        if (h?.pid === me.pid && h.since === me.since) Deno.removeSync(paths.lock);
      };
      // A process that exits without unwinding (Ctrl-C, SIGTERM: `Deno.exit`) releases it too.
      globalThis.addEventListener("unload", release);
      return { release };
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    const holder = readLockHolder(paths.lock);
    if (holder !== undefined && holderAlive(holder)) {
      return {
        _tag: "RunDirLocked",
        file: paths.lock,
        holder,
        message: `Cannot run ${paths.root}: process ${holder.pid} on ${holder.host} has been running it since ${holder.since} (${paths.lock}); stop it first, or delete that file if no such process runs`,
      };
    }
    // The holder is gone (or its lock was torn as it was written): take the lock over.
    try {
      Deno.removeSync(paths.lock);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  const holder = readLockHolder(paths.lock) ?? { pid: -1, host: "?", since: "?" };
  return {
    _tag: "RunDirLocked",
    file: paths.lock,
    holder,
    message: `Cannot run ${paths.root}: another process took ${paths.lock} at the same moment`,
  };
}
