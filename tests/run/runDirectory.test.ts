import { assert, describe, it } from "vitest";
import { createRunDirectory, openRunDirectory, runPaths } from "../../scripts/run/runDirectory.ts";
import { join } from "node:path";

describe("runDirectory", () => {
  it("opens what it created, with the seed and config", () => {
    const root = join(Deno.makeTempDirSync(), "run");
    const made = createRunDirectory(root, 7, { rounds: 2 });
    assert.equal(made._tag, "RunDirectory");
    const opened = openRunDirectory<{ rounds: number }>(root);
    assert.equal(opened._tag, "RunDirectory");
    if (opened._tag !== "RunDirectory") return;
    assert.equal(opened.file.seed, 7);
    assert.equal(opened.file.config.rounds, 2);
    assert.match(opened.paths.checkpoints(3).policy, /checkpoints\/round-3\/policy$/);
  });

  it("refuses to create a run over an existing one", () => {
    const root = join(Deno.makeTempDirSync(), "run");
    createRunDirectory(root, 1, {});
    assert.equal(createRunDirectory(root, 1, {})._tag, "RunDirExists");
  });

  it("names config.json when the format version is incompatible", () => {
    const root = join(Deno.makeTempDirSync(), "run");
    createRunDirectory(root, 1, {});
    const file = runPaths(root).config;
    const cfg = JSON.parse(Deno.readTextFileSync(file));
    cfg.formatVersion = 99;
    Deno.writeTextFileSync(file, JSON.stringify(cfg));
    const r = openRunDirectory(root);
    assert.equal(r._tag, "RunDirIncompatible");
    if (r._tag === "RunDirIncompatible") assert.include(r.message, file);
  });

  it("says a missing directory does not exist", () => {
    const r = openRunDirectory(join(Deno.makeTempDirSync(), "nope"));
    assert.equal(r._tag, "RunDirMissing");
  });
});
