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
 *
 * See docs/RUN_DIRECTORY.md for the formats.
 */
import { join } from "node:path";

/** Format version of run directories written by this code. */
export const RUN_FORMAT_VERSION = 1;

/** Paths inside a run directory. */
export interface RunPaths {
  readonly root: string;
  readonly config: string;
  readonly ledger: string;
  readonly summary: string;
  readonly report: string;
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
  | {
    readonly _tag: "RunDirIncompatible";
    readonly file: string;
    readonly found: unknown;
    readonly expected: number;
    readonly message: string;
  }
  | { readonly _tag: "RunDirCorrupt"; readonly file: string; readonly message: string };

/** An opened run directory. */
export interface RunDirectory<C> {
  readonly _tag: "RunDirectory";
  readonly paths: RunPaths;
  readonly file: RunConfigFile<C>;
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
  if (exists(paths.config)) {
    return {
      _tag: "RunDirExists",
      path: root,
      message: `Cannot create run directory ${root}: it already holds a run (use --resume, or another --run)`,
    };
  }
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
  return { _tag: "RunDirectory", paths, file };
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
  if (!exists(root)) {
    return { _tag: "RunDirMissing", path: root, message: `Cannot open run directory ${root}: it does not exist` };
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
