import { assert, beforeAll, describe, it } from "vitest";
import { initBackend } from "../../models/backend.ts";
import {
  CheckpointError,
  fromBytes,
  loadPolicy,
  loadScorer,
  saveCheckpoint,
  toBytes,
} from "../../models/checkpoint.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { TinyScorer } from "../../models/ppm.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import { PRESETS } from "../../models/transformer.ts";

const tok = Tokenizer.build(["Sam has 4 cats and 9 dogs.", "# add\nx = 4 + 9\nprint(x)"]);
const config = { ...PRESETS.smoke, maxLen: 64, stepTokens: 12 };
const request = {
  problem: "Sam has 4 cats and 9 dogs.",
  steps: [],
  k: 3,
  temperature: 1,
  topP: 0.95,
  seed: 5,
};
const item = {
  problem: "Sam has 4 cats and 9 dogs.",
  steps: [],
  candidate: { text: "add", code: "x = 4 + 9" },
};

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("Expected a rejection: the promise resolved");
}

describe("checkpoints", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("save → load gives a policy with identical samples and metadata", async () => {
    const dir = await Deno.makeTempDir();
    const policy = TinyPolicy.create(config, tok, 3);
    policy.version = "policy-r2";
    await saveCheckpoint(dir, policy, { round: 2, data: { trajectories: 10 } });
    const loaded = await loadPolicy(dir);
    assert.deepEqual(await loaded.propose([request]), await policy.propose([request]));
    assert.equal(loaded.version, "policy-r2");
    const cfg = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    assert.equal(cfg.round, 2);
    assert.equal(cfg.kind, "policy");
    policy.dispose();
    loaded.dispose();
    await Deno.remove(dir, { recursive: true });
  });

  it("an ALiBi policy round-trips with its positions setting, and a checkpoint mixing it with pos_emb is refused", async () => {
    const policy = TinyPolicy.create({ ...config, positions: "alibi" }, tok, 5);
    const loaded = fromBytes(toBytes(policy), "alibi.safetensors") as TinyPolicy;
    assert.equal(loaded.config.positions, "alibi");
    assert.deepEqual(await loaded.propose([request]), await policy.propose([request]));
    // Learned weights under an ALiBi config: the position table would be silently ignored.
    const learned = TinyPolicy.create({ ...config, positions: "learned" }, tok, 5);
    const mixed = new TinyPolicy({ ...config, positions: "alibi" }, tok, learned.params);
    assert.throws(
      () => fromBytes(toBytes(mixed), "mixed.safetensors"),
      CheckpointError,
      /mixed\.safetensors.*pos_emb is present/,
    );
    for (const m of [policy, loaded, learned]) m.dispose();
  });

  it("toBytes → fromBytes gives a scorer with identical scores", async () => {
    const policy = TinyPolicy.create(config, tok, 4);
    const scorer = TinyScorer.fromPolicy(policy, "ppm", 1);
    const copy = fromBytes(toBytes(scorer));
    assert.instanceOf(copy, TinyScorer);
    assert.deepEqual(await (copy as TinyScorer).score([item]), await scorer.score([item]));
    for (const m of [policy, scorer, copy]) m.dispose();
  });

  it("the safetensors header is plain JSON with the config in __metadata__", () => {
    const policy = TinyPolicy.create(config, tok, 5);
    const bytes = toBytes(policy);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    assert.equal(header.tok_emb.dtype, "F32");
    assert.deepEqual(header.tok_emb.shape, [tok.size, config.dModel]);
    assert.equal(JSON.parse(header.__metadata__.config).sizes.dModel, config.dModel);
    assert.equal((8 + n) % 8, 0);
    policy.dispose();
  });

  it("a truncated or corrupt blob is a CheckpointError naming the file", () => {
    const policy = TinyPolicy.create(config, tok, 6);
    const bytes = toBytes(policy);
    policy.dispose();
    const truncated = bytes.subarray(0, bytes.length - 100);
    assert.throws(() => fromBytes(truncated, "w.safetensors"), CheckpointError, /w\.safetensors/);
    const corrupt = bytes.slice();
    corrupt.fill(0x7b, 8, 40);
    assert.throws(() => fromBytes(corrupt, "w.safetensors"), CheckpointError, /not valid JSON/);
    assert.throws(
      () => fromBytes(new Uint8Array(3), "w.safetensors"),
      CheckpointError,
      /too short/,
    );
  });

  it("loading a policy checkpoint as a scorer is an error, not a silent fallback", async () => {
    const dir = await Deno.makeTempDir();
    const policy = TinyPolicy.create(config, tok, 7);
    await saveCheckpoint(dir, policy);
    policy.dispose();
    assert.match(String(await rejection(loadScorer(dir))), /expected a scorer/);
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ kind: "policy", sizes: { dModel: 1 } }),
    );
    assert.match(String(await rejection(loadPolicy(dir))), /config\.json/);
    assert.instanceOf(await rejection(loadPolicy(`${dir}/missing`)), CheckpointError);
    await Deno.remove(dir, { recursive: true });
  });
});
