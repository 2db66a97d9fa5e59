/**
 * Model checkpoints, readable from Python (docs/CHECKPOINTS.md):
 *
 * - `model.safetensors`: every parameter as a little-endian F32 tensor named as in
 *   models/transformer.ts; the header's `__metadata__.config` holds the JSON config (below).
 * - `config.json`: the same config, pretty-printed: format, kind (`policy` | `ppm` | `orm` |
 *   `qreg`), sizes, tokenizer, version, round and data provenance.
 *
 * `toBytes` / `fromBytes` give the single-blob form (the safetensors bytes alone) for blob stores.
 * A corrupt, truncated or mismatched checkpoint is a `CheckpointError` naming the file.
 */
import * as tf from "@tensorflow/tfjs";
import { TinyPolicy } from "./policy.ts";
import { SCORER_KINDS, type ScorerKind, TinyScorer } from "./ppm.ts";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
import { Tokenizer, type TokenizerJSON } from "./tokenizer.ts";
import type { Params, PolicyConfig } from "./transformer.ts";

/** Format tag written into every checkpoint. */
export const CHECKPOINT_FORMAT = "rstar-checkpoint/1";

/** A model that can be checkpointed. */
export type Model = TinyPolicy | TinyScorer;

/** Provenance recorded with a checkpoint. */
export interface CheckpointMeta {
  /** Self-evolution round that produced the weights (0 = none). */
  readonly round?: number;
  /** Where the training data came from (free-form: run id, data files, counts). */
  readonly data?: Readonly<Record<string, unknown>>;
  /** Overrides the model's version string. */
  readonly version?: string;
}

/** The JSON config stored in `config.json` and in the safetensors metadata. */
export interface CheckpointConfig {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly kind: "policy" | ScorerKind;
  readonly version: string;
  readonly sizes: PolicyConfig;
  readonly vocabSize: number;
  readonly tokenizer: TokenizerJSON;
  readonly round: number;
  readonly data: Readonly<Record<string, unknown>>;
  /** Parameter names in file order. */
  readonly tensors: readonly string[];
}

/** A checkpoint that cannot be read: what is wrong and in which file. */
export class CheckpointError extends Error {
  /** Tag for callers that switch on error kinds. */
  readonly _tag = "CheckpointError";
  constructor(readonly file: string, readonly reason: string) {
    super(`Cannot load checkpoint ${file}: ${reason}`);
  }
}

function kindOf(model: Model): "policy" | ScorerKind {
  return model instanceof TinyPolicy ? "policy" : model.kind;
}

/** The config a model would be saved with. */
export function configOf(model: Model, meta: CheckpointMeta = {}): CheckpointConfig {
  return {
    format: CHECKPOINT_FORMAT,
    kind: kindOf(model),
    version: meta.version ?? model.version,
    sizes: { ...model.config },
    vocabSize: model.tokenizer.size,
    tokenizer: model.tokenizer.toJSON(),
    round: meta.round ?? 0,
    data: meta.data ?? {},
    tensors: [...model.params.keys()],
  };
}

/** The model as one safetensors blob with its config in `__metadata__.config`. */
export function toBytes(model: Model, meta: CheckpointMeta = {}): Uint8Array {
  const tensors = [...model.params].map(([name, v]) => [name, { shape: v.shape, data: v.dataSync() as Float32Array }] as const);
  return encodeSafetensors({ config: JSON.stringify(configOf(model, meta)) }, tensors);
}

/** Parses a safetensors blob into its config and parameter arrays; `file` names it in errors. */
export function parseBytes(
  bytes: Uint8Array,
  file = "<bytes>",
): { config: CheckpointConfig; arrays: Map<string, { shape: number[]; data: Float32Array }> } {
  const fail = (reason: string): never => {
    throw new CheckpointError(file, reason);
  };
  let config: CheckpointConfig | undefined;
  const { tensors } = decodeSafetensors(bytes, fail, (meta) => {
    if (typeof meta.config !== "string") fail("header lacks __metadata__.config");
    try {
      config = JSON.parse(meta.config as string);
    } catch {
      fail("__metadata__.config is not valid JSON");
    }
    if (config!.format !== CHECKPOINT_FORMAT) {
      fail(`format is ${JSON.stringify(config!.format)}, expected ${CHECKPOINT_FORMAT}`);
    }
    return config!.tensors ?? [];
  });
  return { config: config!, arrays: tensors };
}

function build(
  config: CheckpointConfig,
  arrays: Map<string, { shape: number[]; data: Float32Array }>,
  file: string,
): Model {
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromJSON(config.tokenizer);
  } catch (err) {
    throw new CheckpointError(file, err instanceof Error ? err.message : String(err));
  }
  if (tokenizer.size !== config.vocabSize) {
    throw new CheckpointError(
      file,
      `tokenizer has ${tokenizer.size} tokens, config says ${config.vocabSize}`,
    );
  }
  const s = config.sizes;
  const alibi = s.positions === "alibi";
  const expect: Record<string, number[]> = {
    tok_emb: [config.vocabSize, s.dModel],
    ...(alibi ? {} : { pos_emb: [s.maxLen, s.dModel] }),
  };
  if (alibi && arrays.has("pos_emb")) {
    throw new CheckpointError(
      file,
      `tensor pos_emb is present, but the config's positions are "alibi"`,
    );
  }
  for (const [name, shape] of Object.entries(expect)) {
    const a = arrays.get(name);
    if (a === undefined || a.shape.join(",") !== shape.join(",")) {
      throw new CheckpointError(
        file,
        `tensor ${name} has shape [${a?.shape ?? "missing"}], expected [${shape}]`,
      );
    }
  }
  const params: Params = new Map();
  for (const [name, a] of arrays) {
    params.set(
      name,
      tf.tidy(() => tf.variable(tf.tensor(a.data, a.shape), true)),
    );
  }
  try {
    if (config.kind === "policy") return new TinyPolicy(s, tokenizer, params, config.version);
    if (!SCORER_KINDS.includes(config.kind)) {
      throw new Error(`unknown kind ${JSON.stringify(config.kind)}`);
    }
    return new TinyScorer(config.kind, s, tokenizer, params, config.version);
  } catch (err) {
    for (const v of params.values()) v.dispose();
    throw new CheckpointError(file, err instanceof Error ? err.message : String(err));
  }
}

/** Rebuilds a model from `toBytes` output; `file` names the source in errors. */
export function fromBytes(bytes: Uint8Array, file = "<bytes>"): Model {
  const { config, arrays } = parseBytes(bytes, file);
  return build(config, arrays, file);
}

/** Writes `model.safetensors` and `config.json` into `dir` (created if needed). */
export async function saveCheckpoint(
  dir: string,
  model: Model,
  meta: CheckpointMeta = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const bytes = toBytes(model, meta);
  // Write to temporary names then rename, so a crash never leaves a half-written checkpoint.
  await Deno.writeFile(`${dir}/model.safetensors.tmp`, bytes);
  await Deno.writeTextFile(
    `${dir}/config.json.tmp`,
    JSON.stringify(configOf(model, meta), null, 2) + "\n",
  );
  await Deno.rename(`${dir}/model.safetensors.tmp`, `${dir}/model.safetensors`);
  await Deno.rename(`${dir}/config.json.tmp`, `${dir}/config.json`);
}

async function loadDir(dir: string): Promise<Model> {
  const file = `${dir}/model.safetensors`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (err) {
    throw new CheckpointError(file, err instanceof Error ? err.message : String(err));
  }
  const { config, arrays } = parseBytes(bytes, file);
  const cfile = `${dir}/config.json`;
  let side: Partial<CheckpointConfig>;
  try {
    side = JSON.parse(await Deno.readTextFile(cfile));
  } catch (err) {
    throw new CheckpointError(cfile, err instanceof Error ? err.message : String(err));
  }
  if (
    side.kind !== config.kind || JSON.stringify(side.sizes) !== JSON.stringify(config.sizes) ||
    side.vocabSize !== config.vocabSize
  ) {
    throw new CheckpointError(
      cfile,
      "kind, sizes or vocabSize differ from model.safetensors's metadata",
    );
  }
  return build(config, arrays, file);
}

/** Loads a policy checkpoint directory; a scorer or a broken checkpoint is a CheckpointError. */
export async function loadPolicy(dir: string): Promise<TinyPolicy> {
  const m = await loadDir(dir);
  if (!(m instanceof TinyPolicy)) {
    m.dispose();
    throw new CheckpointError(
      `${dir}/model.safetensors`,
      `holds a ${m.kind} scorer, expected a policy`,
    );
  }
  return m;
}

/** Loads a scorer checkpoint directory (any kind); a policy or a broken checkpoint is a CheckpointError. */
export async function loadScorer(dir: string): Promise<TinyScorer> {
  const m = await loadDir(dir);
  if (!(m instanceof TinyScorer)) {
    m.dispose();
    throw new CheckpointError(`${dir}/model.safetensors`, "holds a policy, expected a scorer");
  }
  return m;
}
