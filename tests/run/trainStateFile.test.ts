import { join } from "node:path";
import { assert, describe, it } from "vitest";
import type { TrainState } from "../../models/trainState.ts";
import { trainStateFile } from "../../scripts/run/trainStateFile.ts";

const tensor = (xs: number[]) => ({ shape: [xs.length], data: new Float32Array(xs) });
const state: TrainState = {
  fingerprint: "abc",
  step: 7,
  total: 20,
  finished: false,
  epoch: 1,
  batch: 2,
  losses: [1.5],
  epochLossSum: 2.25,
  epochSteps: 2,
  tokens: 900,
  seconds: 3.5,
  adamSteps: 7,
  params: new Map([["w", tensor([1, 2, 3])]]),
  adamM: new Map([["w", tensor([0.1, 0.2, 0.3])]]),
  adamV: new Map([["w", tensor([0.01, 0.02, 0.03])]]),
};

describe("training state files in the run directory", () => {
  it("a saved state is loaded back whole by its own run, with a line saying where training resumes", async () => {
    const path = join(
      Deno.makeTempDirSync(),
      "checkpoints",
      "round-1",
      "policy-training.safetensors",
    );
    const lines: string[] = [];
    const file = trainStateFile(path, 60, "round 1 SFT", (l) => lines.push(l));
    assert.isUndefined(await file.load("abc"));
    await file.save(state);
    const back = await file.load("abc");
    assert.deepEqual(back, state);
    assert.deepEqual(lines, [`round 1 SFT: resuming at step 7/20 (state saved in ${path})`]);
    file.remove();
    file.remove();
    assert.isUndefined(await file.load("abc"));
  });

  it("a state of another training run, or a damaged file, is set aside with a line naming the file, and training starts over", async () => {
    const path = join(Deno.makeTempDirSync(), "ppm-training.safetensors");
    const lines: string[] = [];
    const file = trainStateFile(path, 60, "round 2 PPM", (l) => lines.push(l));
    await file.save(state);
    assert.isUndefined(await file.load("another"));
    Deno.writeFileSync(path, new TextEncoder().encode("not a state"));
    assert.isUndefined(await file.load("abc"));
    assert.equal(lines.length, 2);
    assert.include(
      lines[0],
      `round 2 PPM: ${path} was saved by a training run with other data, settings or initial weights`,
    );
    assert.match(
      lines[1]!,
      new RegExp(
        `^round 2 PPM: Cannot read training state ${path}: .*; training from the first step$`,
      ),
    );
  });
});
