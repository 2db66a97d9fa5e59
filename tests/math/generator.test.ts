import { assert, describe, it } from "vitest";
import { draftProblem, FAMILIES, generateProblems, splitOf, VARIABLE_NAMES } from "../../math/generator.ts";
import { PYTHON_PRELUDE, runCode, runStepSync } from "../../math/interpreter.ts";
import { answersEqual } from "../../math/grade.ts";
import { Prng } from "../../math/prng.ts";
import type { Problem } from "../../math/contracts.ts";

function runsToAnswer(p: Problem): boolean {
  const r = runCode(p.solution!.map((s) => s.code).join("\n"));
  return r.ok && r.stdout === `${p.answer}\n`;
}

describe("generateProblems", () => {
  it("gives 10,000 problems whose reference solutions execute to their answers", () => {
    const ps = generateProblems({ count: 10_000, seed: 11 });
    const bad = ps.filter((p) => !runsToAnswer(p)).map((p) => p.id);
    assert.deepEqual(bad, []);
  });

  for (const family of FAMILIES) {
    it(`builds ${family} problems at every level with exactly level steps, the last one printing`, () => {
      for (let level = 1; level <= 5; level++) {
        const ps = generateProblems({ count: 20, seed: level, family, level });
        for (const p of ps) {
          assert.equal(p.family, family);
          assert.equal(p.level, level);
          assert.equal(p.solution!.length, level, p.problem);
          const last = p.solution![level - 1]!;
          assert.match(last.code, /^print\(/);
          for (const s of p.solution!) {
            assert.notInclude(s.code, "\n", "one line of code per step");
            assert.isAbove(s.text.length, 0);
          }
          assert.isTrue(runsToAnswer(p), `${p.problem} -> ${p.answer}`);
        }
      }
    });
  }

  it("runs each reference step in its path's environment as the search will", () => {
    for (const p of generateProblems({ count: 200, seed: 5 })) {
      const steps = p.solution!;
      for (let i = 0; i < steps.length; i++) {
        const r = runStepSync(steps.slice(0, i), steps[i]!);
        assert.isTrue(r.ok, `${p.id} step ${i + 1}: ${r.error?.message}`);
        if (i === steps.length - 1) assert.equal(r.stdout, `${p.answer}\n`);
        else assert.equal(r.stdout, "");
      }
    }
  });

  it("is deterministic by seed and differs across seeds", () => {
    const a = generateProblems({ count: 50, seed: 3 });
    const b = generateProblems({ count: 50, seed: 3 });
    const c = generateProblems({ count: 50, seed: 4 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.map((p) => p.problem), c.map((p) => p.problem));
  });

  it("names problems <split>-<seed>-<n> and never repeats a text within a set", () => {
    const ps = generateProblems({ count: 300, seed: 9, split: "test" });
    assert.deepEqual(ps.slice(0, 3).map((p) => p.id), ["test-9-0", "test-9-1", "test-9-2"]);
    assert.equal(new Set(ps.map((p) => p.problem)).size, ps.length);
  });

  it("never shares a problem text between the train and test splits", () => {
    const train = generateProblems({ count: 3000, seed: 1, split: "train" });
    const test = generateProblems({ count: 1000, seed: 1, split: "test" });
    const trainTexts = new Set(train.map((p) => p.problem));
    assert.isTrue(test.every((p) => !trainTexts.has(p.problem)));
    assert.isTrue(train.every((p) => splitOf(p.problem) === "train"));
    assert.isTrue(test.every((p) => splitOf(p.problem) === "test"));
  });

  it("writes numbers as digits, keeps answers readable and the vocabulary modest", () => {
    const ps = generateProblems({ count: 3000, seed: 2 });
    const words = new Set<string>();
    for (const p of ps) for (const w of p.problem.toLowerCase().match(/[a-z]+/g) ?? []) words.add(w);
    assert.isBelow(words.size, 400);
    const small = ps.filter((p) => Math.abs(Number(p.answer.split("/")[0])) < 1e6).length;
    assert.isAbove(small / ps.length, 0.95);
    assert.isTrue(ps.every((p) => !/\b(one|two|three|four|five|six|seven|eight|nine|ten)\b/i.test(p.problem.replace(/\bone (of|box|bag|part|shop)\b|\bthe one\b|\btwo numbers\b/gi, ""))));
  });

  it("assigns only the documented variable names in reference solutions", () => {
    const names = new Set(VARIABLE_NAMES);
    for (const p of generateProblems({ count: 2000, seed: 6 })) {
      for (const s of p.solution!) {
        const m = /^(\w+) = /.exec(s.code);
        if (m) assert.isTrue(names.has(m[1]!), `${m[1]} in ${p.id}`);
      }
    }
  });

  it("uses only numbers from the text in solutions, plus the constants 1, 2 and 100", () => {
    for (const p of generateProblems({ count: 3000, seed: 12 })) {
      const inText = new Set(p.problem.match(/\d+/g) ?? []);
      for (const s of p.solution!) {
        for (const n of s.code.match(/\d+/g) ?? []) {
          assert.isTrue(inText.has(n) || ["1", "2", "100"].includes(n), `${n} in "${s.code}" of ${p.problem}`);
        }
      }
    }
  });

  it("covers every family and level when none is given", () => {
    const ps = generateProblems({ count: 1000, seed: 8 });
    const seen = new Set(ps.map((p) => `${p.family}:${p.level}`));
    assert.equal(seen.size, FAMILIES.length * 5);
  });

  it("rejects an unknown family or a level outside 1-5", () => {
    assert.throws(() => generateProblems({ count: 1, seed: 1, family: "poetry" }), /Cannot generate family/);
    assert.throws(() => generateProblems({ count: 1, seed: 1, level: 6 }), /Cannot generate level/);
    assert.throws(() => draftProblem(Prng.fromSeed(1), "poetry", 1), /Cannot generate family/);
  });
});

function hasPython(): boolean {
  try {
    return new Deno.Command("python3", { args: ["-I", "-c", "pass"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

describe("reference solutions under real Python", () => {
  it.skipIf(!hasPython())("print answers equal to the reference when run by python3 with the prelude", () => {
    const ps = generateProblems({ count: 400, seed: 13 });
    let prog = PYTHON_PRELUDE + "\n";
    ps.forEach((p, i) => {
      prog += `def _p${i}():\n${p.solution!.map((s) => `    ${s.code}`).join("\n")}\n`;
      prog += `try:\n    _p${i}()\nexcept Exception as e:\n    print("ERR", type(e).__name__)\n`;
    });
    const out = new Deno.Command("python3", { args: ["-I", "-c", prog], stdout: "piped", stderr: "piped" }).outputSync();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.equal(lines.length, ps.length);
    const bad = ps.flatMap((p, i) => (answersEqual(lines[i]!, p.answer) ? [] : [`${p.id}: ${lines[i]} vs ${p.answer}`]));
    assert.deepEqual(bad, []);
  });
});
