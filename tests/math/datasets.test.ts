import { assert, describe, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatasetError, loadDataset, parseDatasetLine } from "../../math/datasets.ts";

function withFile(lines: string[], fn: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "rstar-ds-"));
  const path = join(dir, "data.jsonl");
  writeFileSync(path, lines.join("\n") + "\n");
  return fn(path).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe("loadDataset", () => {
  it("reads our own, GSM8K and MATH shapes", async () => {
    await withFile([
      JSON.stringify({ id: "a1", problem: "What is 2 + 2?", answer: "4", family: "arithmetic", level: 1 }),
      JSON.stringify({ problem: "What is 1/2 + 1/4?", answer: 0.75 }),
      "",
      JSON.stringify({ question: "Ann has 1,000 pens and buys 200 more. How many?", answer: "1000 + 200 = 1200\n#### 1,200" }),
      JSON.stringify({ problem: "Compute $\\frac{1}{2}$.", solution: "So it is $\\boxed{\\frac{1}{2}}$.", level: "Level 3", type: "Prealgebra" }),
    ], async (path) => {
      const { problems, skipped } = await loadDataset(path);
      assert.equal(skipped, 0);
      assert.deepEqual(problems.map((p) => p.answer), ["4", "3/4", "1200", "1/2"]);
      assert.deepEqual(problems.map((p) => p.id), ["a1", "data-2", "data-4", "data-5"]);
      assert.equal(problems[0]!.family, "arithmetic");
      assert.equal(problems[2]!.family, "gsm8k");
      assert.equal(problems[3]!.family, "prealgebra");
      assert.equal(problems[3]!.level, 3);
    });
  });

  it("fails on a bad line with an error naming the file and the line", async () => {
    await withFile([JSON.stringify({ problem: "ok", answer: "1" }), "{not json", JSON.stringify({ problem: "x" })], async (path) => {
      try {
        await loadDataset(path);
        assert.fail("expected a DatasetError");
      } catch (e) {
        assert.instanceOf(e, DatasetError);
        const err = e as DatasetError;
        assert.equal(err._tag, "DatasetError");
        assert.equal(err.line, 2);
        assert.include(err.message, path);
        assert.include(err.message, "line 2");
      }
    });
  });

  it("a repeated id is an error naming the line and the line that has it first; skipping keeps the first", async () => {
    const lines = [
      JSON.stringify({ id: "p1", problem: "What is 3 + 4?", answer: "7" }),
      JSON.stringify({ id: "p2", problem: "What is 2 * 5?", answer: "10" }),
      JSON.stringify({ id: "p1", problem: "Tom has 12 apples and gets 4 more. How many?", answer: "16" }),
    ];
    await withFile(lines, async (path) => {
      try {
        await loadDataset(path);
        assert.fail("expected a DatasetError");
      } catch (e) {
        assert.instanceOf(e, DatasetError);
        assert.equal((e as DatasetError).line, 3);
        assert.include((e as DatasetError).message, `id "p1" is already the id of line 1`);
      }
      const { problems, skipped } = await loadDataset(path, { skipBad: true });
      assert.equal(skipped, 1);
      assert.deepEqual(problems.map((p) => p.answer), ["7", "10"]);
    });
  });

  it("skips and counts bad lines when asked", async () => {
    await withFile([
      JSON.stringify({ problem: "ok", answer: "1" }),
      "{not json",
      JSON.stringify({ question: "no hashes", answer: "it is 5\nreally" }),
      JSON.stringify({ problem: "p", solution: "no box" }),
      "[1, 2]",
      JSON.stringify({ problem: "fine", answer: "x = 2" }),
    ], async (path) => {
      const { problems, skipped } = await loadDataset(path, { skipBad: true });
      assert.equal(skipped, 4);
      assert.deepEqual(problems.map((p) => p.answer), ["1", "2"]);
    });
  });

  it("fails with a DatasetError when the file is missing", async () => {
    try {
      await loadDataset("/nonexistent/data.jsonl");
      assert.fail("expected a DatasetError");
    } catch (e) {
      assert.instanceOf(e, DatasetError);
      assert.match((e as Error).message, /^Cannot read dataset/);
    }
  });
});

describe("parseDatasetLine", () => {
  it("returns a tagged error value for each kind of bad line", () => {
    for (const line of ["nope", "3", JSON.stringify({ problem: "" , answer: "1"}), JSON.stringify({ question: "q" }), JSON.stringify({ problem: "p" })]) {
      const r = parseDatasetLine(line, "f.jsonl", 7);
      assert.isTrue("_tag" in r && r._tag === "DatasetLineError", line);
      if ("_tag" in r) {
        assert.equal(r.line, 7);
        assert.match(r.message, /^Cannot read f\.jsonl line 7: /);
      }
    }
  });
});
