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
import { benchE2e, messagingShare } from "../../scripts/bench/e2e.ts";

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

  it("benchE2e() returns no figures in quick mode", async () => {
    assert.deepEqual(await benchE2e({ quick: true }), []);
  });
});
