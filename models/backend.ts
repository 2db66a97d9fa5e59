/**
 * TF.js backend choice at start-up: `tensorflow` (native libtensorflow through
 * `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`, when installed and loadable) > `wasm`
 * (SIMD, single thread) > `cpu` (pure JS). `RSTAR_BACKEND` overrides the automatic choice; a
 * requested backend that cannot load is an error, never a silent fallback. The choice is printed
 * once, to stderr.
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import process from "node:process";

/** Backend names a caller may request. */
export const BACKENDS = ["tensorflow", "wasm", "cpu"] as const;

/** One of the backend names a caller may request. */
export type BackendName = (typeof BACKENDS)[number];

/** Raised (as a bug-free, user-facing error) when a requested backend cannot be loaded. */
export class BackendUnavailable extends Error {
  /** Tag for callers that switch on error kinds. */
  readonly _tag = "BackendUnavailable";
  constructor(readonly backend: string, readonly reason: string) {
    super(`Cannot load TF.js backend "${backend}": ${reason}`);
  }
}

let chosen: string | undefined;
let announced = false;

async function tryTensorflow(): Promise<string | undefined> {
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      // A computed specifier keeps the type checker and bundlers from requiring the package.
      await import(/* @vite-ignore */ pkg);
      if (await tf.setBackend("tensorflow")) return pkg;
    } catch {
      // Not installed or libtensorflow missing: try the next one.
    }
  }
  return undefined;
}

async function tryWasm(): Promise<string | undefined> {
  try {
    const require = createRequire(import.meta.url);
    const entry = require.resolve("@tensorflow/tfjs-backend-wasm");
    // The package's dist dir holds the .wasm binaries next to its node entry point.
    setWasmPaths(entry.replace(/[^/\\]*$/, ""));
    if (await tf.setBackend("wasm")) return undefined;
    return "setBackend returned false";
  } catch (err) {
    return String(err instanceof Error ? err.message : err);
  }
}

/**
 * Picks and activates the TF.js backend; returns its name (`tensorflow`, `wasm` or `cpu`).
 * `requested` (or the `RSTAR_BACKEND` environment variable) forces one; idempotent. The choice
 * is printed once per process, unless `quiet` (training threads, which the main thread announced).
 */
export async function initBackend(requested?: string, options: { readonly quiet?: boolean } = {}): Promise<string> {
  const want = (requested ?? process.env.RSTAR_BACKEND ?? "").trim().toLowerCase();
  if (chosen !== undefined && (want === "" || want === chosen)) return chosen;
  if (want !== "" && !(BACKENDS as readonly string[]).includes(want)) {
    throw new BackendUnavailable(want, `unknown backend, expected one of ${BACKENDS.join("|")}`);
  }
  let name: string;
  if (want === "tensorflow") {
    if ((await tryTensorflow()) === undefined) {
      throw new BackendUnavailable(want, "neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node loads");
    }
    name = "tensorflow";
  } else if (want === "wasm") {
    const err = await tryWasm();
    if (err !== undefined) throw new BackendUnavailable(want, err);
    name = "wasm";
  } else if (want === "cpu") {
    if (!(await tf.setBackend("cpu"))) throw new BackendUnavailable(want, "setBackend returned false");
    name = "cpu";
  } else if ((await tryTensorflow()) !== undefined) {
    name = "tensorflow";
  } else if ((await tryWasm()) === undefined) {
    name = "wasm";
  } else {
    if (!(await tf.setBackend("cpu"))) throw new BackendUnavailable("cpu", "setBackend returned false");
    name = "cpu";
  }
  await tf.ready();
  chosen = name;
  if (!announced && !options.quiet) {
    announced = true;
    process.stderr.write(`tfjs backend: ${name}\n`);
  }
  return name;
}
