import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import process from "node:process";
import { assert, describe, it } from "vitest";
import {
  areaSelected,
  type BenchArea,
  type BenchFigure,
  benchAreas,
  checkTarget,
  formatFigureLine,
  formatTable,
  runBench,
} from "../../scripts/bench/index.ts";
import { messagingShare } from "../../scripts/bench/e2e.ts";
import { meteredNatsSearch, messagingBreakdown } from "../../scripts/bench/messaging.ts";
import type { StageTiming } from "../../actors/searchService.ts";
import { runCeilingCheck } from "../../scripts/bench/models.ts";
import { resolveConfig } from "../../scripts/run/config.ts";
import { createRunDirectory } from "../../scripts/run/runDirectory.ts";

const area = (id: string, prefixes: string[], fn: unknown, exportName = "benchX"): BenchArea => ({
  id,
  prefixes,
  exportName,
  load: () => Promise.resolve({ [exportName]: fn }),
});

const fig = (name: string, value: number, unit = "x"): BenchFigure => ({ name, value, unit });

describe("checkTarget", () => {
  it("judges at-least targets with >= and at-most targets with <=", () => {
    const seen = new Map<string, BenchFigure>();
    assert.deepInclude(checkTarget(fig("search.ops_per_s", 100_000), seen), { target: 100_000, ok: true });
    assert.deepInclude(checkTarget(fig("search.ops_per_s", 99_999), seen), { ok: false });
    assert.deepInclude(checkTarget(fig("rollout.messaging_share.nats", 0.04), seen), { target: 0.05, ok: true });
    assert.deepInclude(checkTarget(fig("rollout.messaging_share.nats", 0.06), seen), { ok: false });
  });

  it("computes relative targets from the reference figure and skips them when it is missing", () => {
    const seen = new Map([["policy.gen_tok_s.b1", fig("policy.gen_tok_s.b1", 100)]]);
    assert.deepInclude(checkTarget(fig("policy.gen_tok_s.b64", 450), seen), { target: 400, ok: true });
    assert.deepInclude(checkTarget(fig("policy.gen_tok_s.b64", 350), seen), { ok: false });
    const alone = checkTarget(fig("policy.gen_tok_s.b64", 350), new Map());
    assert.isUndefined(alone.target);
    assert.isUndefined(alone.ok);
  });

  it("fails a NaN figure against any target and leaves untargeted figures alone", () => {
    assert.deepInclude(checkTarget(fig("expander.scaling.2proc", Number.NaN), new Map()), { ok: false });
    assert.deepEqual(checkTarget(fig("bus.rtt_us.inproc", 12), new Map()), fig("bus.rtt_us.inproc", 12));
  });
});

describe("runBench", () => {
  it("areaSelected() matches area ids and figure prefixes in both directions", () => {
    const models = benchAreas.find((a) => a.id === "models")!;
    assert.isTrue(areaSelected(models, "policy.gen"));
    assert.isTrue(areaSelected(models, "ppm"));
    assert.isTrue(areaSelected(models, "models"));
    assert.isFalse(areaSelected(models, "search"));
    assert.isTrue(areaSelected(models, undefined));
  });

  it("turns a failing, missing or malformed area into an error figure and runs the others", async () => {
    const areas = [
      area("a", ["a."], () => Promise.reject(new Error("boom"))),
      area("b", ["b."], () => Promise.resolve([fig("b.speed", 3)])),
      { ...area("c", ["c."], null), load: () => Promise.reject(new Error("Module not found")) },
      area("d", ["d."], 42),
      area("e", ["e."], () => Promise.resolve([{ name: "e.bad" }])),
    ];
    const seen: string[] = [];
    const figures = await runBench({ quick: true, areas, onFigure: (f) => void seen.push(f.name) });
    assert.deepEqual(seen, ["error.a", "b.speed", "error.c", "error.d", "error.e"]);
    assert.include(String(figures[0]!.detail), "boom");
    assert.isFalse(figures[0]!.ok);
    assert.include(String(figures[2]!.detail), "Module not found");
  });

  it("reports an area that runs past its deadline and aborts its signal", async () => {
    let aborted = false;
    const slow = area("slow", ["slow."], (o: { signal: AbortSignal }) =>
      new Promise((res) => {
        o.signal.addEventListener("abort", () => {
          aborted = true;
          res([]);
        });
      }));
    const figures = await runBench({ quick: true, areas: [slow], areaDeadlineMs: 50 });
    assert.equal(figures[0]!.name, "error.slow");
    assert.include(String(figures[0]!.detail), "ran past");
    assert.isTrue(aborted);
  });

  it("runs only areas that can match --only and keeps only matching figures", async () => {
    let ranOther = false;
    const areas = [
      area("p", ["p.", "q."], () => Promise.resolve([fig("p.one", 1), fig("q.two", 2)])),
      area("r", ["r."], () => {
        ranOther = true;
        return Promise.resolve([fig("r.three", 3)]);
      }),
    ];
    const figures = await runBench({ quick: true, only: "q.", areas });
    assert.deepEqual(figures.map((f) => f.name), ["q.two"]);
    assert.isFalse(ranOther);
  });
});

describe("formatting", () => {
  it("formatFigureLine() writes the documented keys and null for non-finite values", () => {
    const line = JSON.parse(formatFigureLine({ ...fig("search.ops_per_s", Infinity), target: 1, ok: false, detail: { x: 1 } }));
    assert.deepEqual(line, { name: "search.ops_per_s", value: null, unit: "x", target: 1, ok: false });
  });

  it("formatTable() shows each figure with its verdict", () => {
    const table = formatTable([
      { ...fig("search.ops_per_s", 123_456, "ops/s"), target: 100_000, ok: true },
      { ...fig("expander.scaling.2proc", 1.2, "x"), target: 1.7, ok: false },
    ]);
    assert.match(table, /search\.ops_per_s\s+123,456\s+ops\/s\s+>= 100,000\s+ok/);
    assert.match(table, /expander\.scaling\.2proc\s+1\.20\s+x\s+>= 1\.70\s+MISSED/);
  });
});

describe("rstar bench", () => {
  it("bench --quick --only search prints JSON lines with name, value and unit", () => {
    const root = resolve(import.meta.dirname ?? ".", "../..");
    const r = spawnSync(
      resolve(root, "node_modules/.bin/deno"),
      ["run", "-A", "--quiet", "scripts/rstar.ts", "bench", "--quick", "--only", "search", "--json"],
      { cwd: root, encoding: "utf8", env: { ...process.env, DENO_DIR: resolve(root, ".cache/deno") }, timeout: 150_000 },
    );
    const lines = r.stdout.split("\n").filter((l) => l.trim() !== "");
    assert.isAbove(lines.length, 0, r.stderr);
    for (const l of lines) {
      const obj = JSON.parse(l) as Record<string, unknown>;
      assert.typeOf(obj.name, "string");
      assert.isTrue(obj.value === null || typeof obj.value === "number", l);
      assert.typeOf(obj.unit, "string");
      assert.isTrue((obj.name as string).startsWith("search.") || obj.name === "error.search", l);
    }
    const errors = lines.filter((l) => (JSON.parse(l) as { unit: string }).unit === "error");
    assert.equal(r.status, errors.length > 0 ? 1 : 0, r.stderr);
  });
});

describe("messagingShare", () => {
  it("is the excess of the NATS search time over the in-process one, clamped to [0, 1]", () => {
    assert.closeTo(messagingShare(950, 1000), 0.05, 1e-12);
    assert.equal(messagingShare(1100, 1000), 0);
    assert.isNaN(messagingShare(1000, 0));
  });
});

describe("messagingBreakdown", () => {
  const stage = (problemId: string, ms: number, calls: { ms: number; workMs?: number }[], kind: StageTiming["stage"] = "expand"): StageTiming => ({
    problemId,
    stage: kind,
    wave: 0,
    ms,
    calls,
  });

  it("counts a stage's overlapping requests once: stage wall minus its longest work, over the problems' wall", () => {
    const b = messagingBreakdown({
      stages: [
        // Four requests in flight together: 10 ms of stage, the slowest worked 8 ms -> 2 ms messaging,
        // not the 4 × 2 ms a per-request sum would give.
        stage("a", 10, [{ ms: 10, workMs: 8 }, { ms: 9, workMs: 7 }, { ms: 9.5, workMs: 7.5 }, { ms: 8, workMs: 6 }]),
        stage("a", 3, [{ ms: 3, workMs: 0.5 }], "score"),
        stage("b", 20, [{ ms: 20, workMs: 19 }]),
      ],
      problems: new Map([["a", 20], ["b", 20]]),
    });
    assert.closeTo(b.messagingMs, 2 + 2.5 + 1, 1e-9);
    assert.closeTo(b.share, 5.5 / 40, 1e-12);
    assert.closeTo(b.workShare, (8 + 0.5 + 19) / 40, 1e-12);
    assert.closeTo(b.searcherShare, (40 - 33) / 40, 1e-12);
    assert.equal(b.requests, 6);
    assert.equal(b.unmetered, 0);
    assert.deepEqual(Object.keys(b.byStage).sort(), ["expand", "score"]);
  });

  it("reports requests without a work time and ignores stages of problems that never finished", () => {
    const b = messagingBreakdown({
      stages: [stage("a", 4, [{ ms: 4 }]), stage("lost", 100, [{ ms: 100, workMs: 1 }])],
      problems: new Map([["a", 8]]),
    });
    assert.equal(b.unmetered, 1);
    assert.closeTo(b.share, 0.5, 1e-12);
    assert.equal(b.stages, 1);
    assert.equal(b.requests, 1);
    assert.isNaN(messagingBreakdown({ stages: [], problems: new Map() }).share);
  });

  it("a smoke search over NATS gets a work time in every reply and a messaging share in [0, 1]", async () => {
    const log = await meteredNatsSearch({ url: Deno.env.get("RSTAR_NATS_URL") ?? "nats://127.0.0.1:4222", problems: 3 });
    const b = messagingBreakdown(log);
    assert.equal(b.problems, 3);
    assert.isAbove(b.requests, 3);
    assert.equal(b.unmetered, 0);
    assert.isAtLeast(b.share, 0);
    // Every millisecond of the problems' search is messaging, work or the searcher's own time.
    assert.closeTo(b.share + b.workShare + b.searcherShare, 1, 1e-9);
    assert.equal(log.retries, 0);
  });
});

describe("models.ts ceiling RUN_DIR", () => {
  const rejection = (p: Promise<unknown>) => p.then(() => assert.fail("expected a rejection"), (e: unknown) => e);

  it("refuses a run without round-1 training data, naming the missing file", async () => {
    const dir = Deno.makeTempDirSync({ prefix: "ceiling-" });
    createRunDirectory(dir, 1, resolveConfig("smoke"));
    const err = await rejection(runCeilingCheck({ run: dir, seconds: 1, perLevel: 1 }));
    assert.instanceOf(err, RangeError);
    assert.match(String(err), /round-1\/sft\.jsonl is missing/);
  });

  it("refuses a run whose problems have no reference solutions (a dataset), before training anything", async () => {
    const dir = Deno.makeTempDirSync({ prefix: "ceiling-" });
    const data = `${Deno.makeTempDirSync({ prefix: "ceiling-data-" })}/problems.jsonl`;
    Deno.writeTextFileSync(data, `${JSON.stringify({ id: "d1", problem: "What is 2 + 3?", answer: "5" })}\n`);
    const smoke = resolveConfig("smoke");
    const config = { ...smoke, train: { ...smoke.train, dataset: data } };
    createRunDirectory(dir, 1, config);
    Deno.mkdirSync(`${dir}/round-1`);
    const pick = { problem_id: "d1", problem: "What is 2 + 3?", steps: [{ text: "add", code: "print(2 + 3)" }] };
    Deno.writeTextFileSync(`${dir}/round-1/sft.jsonl`, `${JSON.stringify(pick)}\n`);
    const err = await rejection(runCeilingCheck({ run: dir, seconds: 1, perLevel: 1 }));
    assert.instanceOf(err, RangeError);
    assert.match(String(err), /no reference solutions/);
  });
});
