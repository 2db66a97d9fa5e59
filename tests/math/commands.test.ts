import { assert, describe, it } from "vitest";

/** Runs `rstar <args>` in a subprocess with `input` on stdin. */
async function rstar(args: string[], input = ""): Promise<{ code: number; lines: string[]; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "scripts/rstar.ts", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  return { code: out.code, lines: text.split("\n").filter((l) => l.length > 0), stderr: new TextDecoder().decode(out.stderr) };
}

describe("rstar gen", () => {
  it("writes one {id,family,level,problem,answer} line per problem, the same for the same seed", async () => {
    const a = await rstar(["gen", "--count", "5", "--seed", "4", "--family", "counting", "--level", "2", "--split", "test"]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.lines.length, 5);
    for (const [i, line] of a.lines.entries()) {
      const rec = JSON.parse(line);
      assert.deepEqual(Object.keys(rec), ["id", "family", "level", "problem", "answer"]);
      assert.equal(rec.id, `test-4-${i}`);
      assert.equal(rec.family, "counting");
      assert.equal(rec.level, 2);
    }
    const b = await rstar(["gen", "--count", "5", "--seed", "4", "--family", "counting", "--level", "2", "--split", "test"]);
    assert.deepEqual(a.lines, b.lines);
  });

  it("rejects a bad level or family as a usage error", async () => {
    assert.equal((await rstar(["gen", "--level", "6"])).code, 2);
    assert.equal((await rstar(["gen", "--family", "poetry"])).code, 2);
  });
});

describe("rstar exec", () => {
  it("answers every input line in order, with an error object for a bad line", async () => {
    const input = [
      JSON.stringify({ code: "print(6 * 7)" }),
      "not json",
      JSON.stringify({ code: "x = 1 / 0" }),
      JSON.stringify({ prefix: ["a = 5", "b = a * 2"], code: "print(b + 1)" }),
      JSON.stringify({ nocode: 1 }),
      JSON.stringify({ code: "while True:\n    pass" }),
    ].join("\n");
    const r = await rstar(["exec"], input);
    assert.equal(r.code, 0, r.stderr);
    const out = r.lines.map((l) => JSON.parse(l));
    assert.equal(out.length, 6);
    assert.deepEqual(out[0], { ok: true, stdout: "42\n" });
    assert.isFalse(out[1].ok);
    assert.match(out[1].error.message, /line 2/);
    assert.equal(out[2].error.kind, "ZeroDivisionError");
    assert.deepEqual(out[3], { ok: true, stdout: "11\n" });
    assert.isFalse(out[4].ok);
    assert.equal(out[5].error.kind, "LimitExceeded");
  });
});

describe("rstar grade", () => {
  it("writes {equal} per line in order and an error object for a bad line", async () => {
    const input = [
      JSON.stringify({ pred: "0.75", gold: "3/4" }),
      JSON.stringify({ pred: "\\frac{1}{3}", gold: "0.5" }),
      "{broken",
      JSON.stringify({ pred: 12, gold: "12" }),
      JSON.stringify({ pred: ["x"], gold: "1" }),
    ].join("\n");
    const r = await rstar(["grade"], input);
    assert.equal(r.code, 0, r.stderr);
    const out = r.lines.map((l) => JSON.parse(l));
    assert.deepEqual(out.map((o) => o.equal), [true, false, false, true, false]);
    assert.match(out[2].error, /^Cannot read input line 3/);
    assert.isString(out[4].error);
  });
});
