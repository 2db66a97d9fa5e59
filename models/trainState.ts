/**
 * A training run's state between two optimiser steps, enough to continue it exactly: the weights,
 * Adam's moments and step count, where the run stands in its epochs (each epoch's batch order is
 * a pure function of the seed and the epoch, so the position is two numbers) and the figures so
 * far. A run given the state a killed run saved continues to the same weights, bit for bit, as a
 * run never killed.
 *
 * On disk it is a safetensors file (safetensors.ts): tensors `param/NAME`, `adam_m/NAME`,
 * `adam_v/NAME`, and the rest as JSON in `__metadata__.state`.
 */
import { decodeSafetensors, encodeSafetensors, type F32Tensor } from "./safetensors.ts";

/** Format tag of a training state file. */
export const TRAIN_STATE_FORMAT = "rstar-train-state/1";

/** Where a training run stands, and what it has done so far. */
export interface TrainState {
  /** Identifies the run (data, options, initial weights): a state is only resumed by its own run. */
  readonly fingerprint: string;
  /** Optimiser steps taken, and planned. */
  readonly step: number;
  readonly total: number;
  /** True once the run has ended (all steps, or its time limit). */
  readonly finished: boolean;
  /** The epoch the next step belongs to, and how many of its batches are done. */
  readonly epoch: number;
  readonly batch: number;
  /** Mean loss of each finished epoch, and the running sum and count of the current one. */
  readonly losses: readonly number[];
  readonly epochLossSum: number;
  readonly epochSteps: number;
  /** Real tokens processed, and training seconds spent, so far. */
  readonly tokens: number;
  readonly seconds: number;
  /** Adam's step count. */
  readonly adamSteps: number;
  /** Weights and Adam's first and second moments, by parameter name. */
  readonly params: ReadonlyMap<string, F32Tensor>;
  readonly adamM: ReadonlyMap<string, F32Tensor>;
  readonly adamV: ReadonlyMap<string, F32Tensor>;
}

/** A training state that cannot be read: what is wrong and in which file. */
export class TrainStateError extends Error {
  readonly _tag = "TrainStateError";
  constructor(readonly file: string, readonly reason: string) {
    super(`Cannot read training state ${file}: ${reason}`);
  }
}

const NUMBER_FIELDS = [
  "step",
  "total",
  "epoch",
  "batch",
  "epochLossSum",
  "epochSteps",
  "tokens",
  "seconds",
  "adamSteps",
] as const;

const GROUPS = [["param", "params"], ["adam_m", "adamM"], ["adam_v", "adamV"]] as const;

/** The state as one safetensors blob. */
export function trainStateToBytes(state: TrainState): Uint8Array {
  const { params: _p, adamM: _m, adamV: _v, ...rest } = state;
  const tensors: [string, F32Tensor][] = [];
  for (const [prefix, key] of GROUPS) {
    for (const [name, t] of state[key]) tensors.push([`${prefix}/${name}`, t]);
  }
  return encodeSafetensors(
    { state: JSON.stringify({ format: TRAIN_STATE_FORMAT, ...rest }) },
    tensors,
  );
}

/** Reads `trainStateToBytes` output; `file` names the source in errors. */
export function trainStateFromBytes(bytes: Uint8Array, file = "<bytes>"): TrainState {
  const fail = (reason: string): never => {
    throw new TrainStateError(file, reason);
  };
  const { metadata, tensors } = decodeSafetensors(bytes, fail);
  let rest: Record<string, unknown>;
  try {
    rest = JSON.parse(String(metadata.state));
  } catch {
    return fail("header lacks a valid __metadata__.state");
  }
  if (rest.format !== TRAIN_STATE_FORMAT) {
    fail(`format is ${JSON.stringify(rest.format)}, expected ${TRAIN_STATE_FORMAT}`);
  }
  for (const k of NUMBER_FIELDS) {
    if (typeof rest[k] !== "number" || !Number.isFinite(rest[k])) fail(`${k} is not a number`);
  }
  if (
    typeof rest.fingerprint !== "string" || typeof rest.finished !== "boolean" ||
    !Array.isArray(rest.losses)
  ) {
    fail("fingerprint, finished or losses is missing");
  }
  const groups = {
    params: new Map<string, F32Tensor>(),
    adamM: new Map<string, F32Tensor>(),
    adamV: new Map<string, F32Tensor>(),
  };
  for (const [name, t] of tensors) {
    const cut = name.indexOf("/");
    const group = GROUPS.find(([prefix]) => prefix === name.slice(0, cut));
    if (group === undefined) fail(`tensor ${name} belongs to no group (param/, adam_m/, adam_v/)`);
    groups[group![1]].set(name.slice(cut + 1), t);
  }
  const names = [...groups.params.keys()].sort().join(",");
  if (
    [...groups.adamM.keys()].sort().join(",") !== names ||
    [...groups.adamV.keys()].sort().join(",") !== names
  ) {
    fail("the weights and the optimiser's moments name different tensors");
  }
  const { format: _format, ...fields } = rest;
  return { ...(fields as unknown as Omit<TrainState, "params" | "adamM" | "adamV">), ...groups };
}

/** A 64-bit hash (16 hex digits) over byte chunks, for training fingerprints: two chained FNV-1a lanes. */
export function hashChunks(chunks: Iterable<Uint8Array>): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++) {
      a = Math.imul(a ^ c[i]!, 0x01000193);
      b = Math.imul(b ^ c[i]!, 0x01000193) ^ (a >>> 15);
    }
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}
