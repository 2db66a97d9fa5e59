import { assert, describe, it } from "vitest";
import {
  createRunDirectory,
  lockRunDirectory,
  openRunDirectory,
  readLockHolder,
  runningHolder,
  runPaths,
} from "../../scripts/run/runDirectory.ts";
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

  it("says why a run directory cannot be made, and leaves nothing behind", () => {
    const tmp = Deno.makeTempDirSync();
    Deno.writeTextFileSync(join(tmp, "file"), "x");
    const r = createRunDirectory(join(tmp, "file", "a", "run"), 1, {});
    assert.equal(r._tag, "RunDirUnwritable");
    assert.match(r._tag === "RunDirUnwritable" ? r.message : "", /^Cannot create run directory .*file\/a\/run: Not a directory$/);
    assert.deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name), ["file"]);
    assert.equal(createRunDirectory("", 1, {})._tag, "RunDirUnwritable");
    assert.equal(openRunDirectory(" ")._tag, "RunDirMissing");
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

  it("lets one process run a run at a time: a second lock names the holder, and the released lock is free again", () => {
    const root = join(Deno.makeTempDirSync(), "run");
    createRunDirectory(root, 1, {});
    const paths = runPaths(root);
    const first = lockRunDirectory(paths);
    assert.notProperty(first, "_tag");
    assert.deepInclude(runningHolder(paths), { pid: Deno.pid, host: Deno.hostname() });
    const second = lockRunDirectory(paths);
    assert.propertyVal(second, "_tag", "RunDirLocked");
    if (!("_tag" in second) || second._tag !== "RunDirLocked") return;
    assert.equal(second.holder.pid, Deno.pid);
    assert.include(second.message, `process ${Deno.pid} on ${Deno.hostname()} has been running it`);
    assert.include(second.message, paths.lock);
    if (!("_tag" in first)) first.release();
    assert.isUndefined(runningHolder(paths));
    const again = lockRunDirectory(paths);
    assert.notProperty(again, "_tag");
    if (!("_tag" in again)) again.release();
  });

  it("takes over a lock left by a process that is gone, or torn as it was written", async () => {
    const root = join(Deno.makeTempDirSync(), "run");
    createRunDirectory(root, 1, {});
    const paths = runPaths(root);
    // A process that has exited: its pid no longer runs (or runs another program, started later).
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    Deno.writeTextFileSync(paths.lock, JSON.stringify({ pid: gone.pid, host: Deno.hostname(), since: "2026-01-01T00:00:00.000Z", started: "1" }));
    assert.isUndefined(runningHolder(paths));
    const taken = lockRunDirectory(paths);
    assert.notProperty(taken, "_tag");
    assert.equal(readLockHolder(paths.lock)?.pid, Deno.pid);
    if (!("_tag" in taken)) taken.release();
    Deno.writeTextFileSync(paths.lock, '{"pid": 12');
    const torn = lockRunDirectory(paths);
    assert.notProperty(torn, "_tag");
    if (!("_tag" in torn)) torn.release();
  });
});
