import { tmpdir } from "node:os";
import process from "node:process";
import { afterAll, assert, beforeAll, describe, it } from "vitest";
import type { Step } from "../../math/contracts.ts";
import { PythonExecutor, pythonAvailable } from "../../math/pythonExecutor.ts";

const hasPython = pythonAvailable();
const step = (code: string, text = "step"): Step => ({ text, code });

describe.skipIf(!hasPython)("PythonExecutor", () => {
  let ex: PythonExecutor;
  beforeAll(() => {
    ex = new PythonExecutor({ poolSize: 2, timeoutMs: 3_000, memoryBytes: 512 * 1024 ** 2 });
  });
  afterAll(async () => {
    await ex.close();
  });

  it("runStep() reports only the new step's output, with the prefix's variables in scope", async () => {
    const r = await ex.runStep([step("a = 3\nprint('prefix')"), step("b = a * 4")], step("print(a + b)"));
    assert.deepEqual(r, { ok: true, stdout: "15\n" });
  });

  it("runStep() starts every request from a fresh namespace", async () => {
    await ex.runStep([], step("leak = 1"));
    await ex.runStep([], step("leak = 1"));
    const r = await ex.runStep([], step("print(leak)"));
    assert.equal(r.error?.kind, "NameError");
  });

  it("runStep() maps Python exceptions to error kinds with the step's line", async () => {
    const cases: [string, string, number][] = [
      ["x = (1 +", "SyntaxError", 1],
      ["x = 1\nprint(y)", "NameError", 2],
      ["x = 1\n\ny = x / 0", "ZeroDivisionError", 3],
      ["x = 'a' + 1", "TypeError", 1],
      ["x = int('abc')", "ValueError", 1],
      ["x = 1\nd = {}\nd['k']", "Unsupported", 3],
    ];
    for (const [code, kind, line] of cases) {
      const r = await ex.runStep([step("z = 0")], step(code));
      assert.isFalse(r.ok, code);
      assert.equal(r.error?.kind, kind, code);
      assert.equal(r.error?.line, line, code);
    }
    const r = await ex.runStep([], step("[][1]"));
    assert.match(r.error!.message, /^IndexError/);
  });

  it("runStep() says which earlier step failed when the prefix does not run", async () => {
    const r = await ex.runStep([step("a = 1"), step("b = 1 / 0")], step("print(a)"));
    assert.equal(r.error?.kind, "ZeroDivisionError");
    assert.match(r.error!.message, /^Earlier step 2 failed/);
  });

  it("runStep() keeps what the step printed before it failed", async () => {
    const r = await ex.runStep([], step("print(1)\nprint(1 / 0)"));
    assert.equal(r.stdout, "1\n");
    assert.equal(r.error?.kind, "ZeroDivisionError");
  });

  it("runStep() cuts off a step that runs too long and the pool keeps working", async () => {
    const quick = new PythonExecutor({ poolSize: 1, timeoutMs: 300 });
    try {
      const r = await quick.runStep([], step("while True:\n    pass"));
      assert.equal(r.error?.kind, "LimitExceeded");
      assert.deepEqual(await quick.runStep([], step("print(2 ** 10)")), { ok: true, stdout: "1024\n" });
    } finally {
      await quick.close();
    }
  });

  it("runStep() reports LimitExceeded for a step over the memory limit and recovers", async () => {
    const r = await ex.runStep([], step("x = bytearray(2 * 1024 ** 3)"));
    assert.equal(r.error?.kind, "LimitExceeded");
    assert.deepEqual(await ex.runStep([], step("print('alive')")), { ok: true, stdout: "alive\n" });
  });

  it("runStep() reports LimitExceeded for output over the cap", async () => {
    const r = await ex.runStep([], step("for i in range(10**6):\n    print(i)"));
    assert.equal(r.error?.kind, "LimitExceeded");
  });

  it("runStep() refuses to open sockets", async () => {
    const r = await ex.runStep([], step("import socket\ns = socket.socket()"));
    assert.equal(r.error?.kind, "Unsupported");
    assert.match(r.error!.message, /network access is disabled/);
    const c = await ex.runStep([], step("import socket\nsocket.create_connection(('127.0.0.1', 4222))"));
    assert.match(c.error!.message, /network access is disabled/);
  });

  it("runStep() works in a throw-away temporary directory, emptied between steps", async () => {
    const w = await ex.runStep([], step("import os\nopen('f.txt', 'w').write('x')\nprint(os.getcwd())"));
    assert.isTrue(w.ok);
    assert.isTrue(w.stdout.startsWith(tmpdir()), w.stdout);
    for (let i = 0; i < 3; i++) {
      const r = await ex.runStep([], step("import os\nprint(os.listdir('.'))"));
      assert.equal(r.stdout, "[]\n");
    }
  });

  it("runStep() cannot be confused by steps that read stdin or write to the raw stdout", async () => {
    const a = await ex.runStep([], step("import os, sys\nos.write(1, b'junk\\n')\nsys.__stdout__.write('more\\n')"));
    assert.deepEqual(a, { ok: true, stdout: "" });
    const b = await ex.runStep([], step("x = input()"));
    assert.equal(b.error?.kind, "Unsupported");
    assert.match(b.error!.message, /^EOFError/);
    assert.deepEqual(await ex.runStep([], step("print(7)")), { ok: true, stdout: "7\n" });
  });

  it("runStep() answers concurrent steps correctly across the pool", async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => ex.runStep([step(`n = ${i}`)], step("print(n * n)"))),
    );
    results.forEach((r, i) => assert.deepEqual(r, { ok: true, stdout: `${i * i}\n` }));
  });

  it("close() kills the worker processes", async () => {
    const own = new PythonExecutor({ poolSize: 1 });
    const r = await own.runStep([], step("import os\nprint(os.getpid())"));
    const pid = Number(r.stdout.trim());
    assert.isAbove(pid, 0);
    await own.close();
    let alive = true;
    for (let i = 0; i < 200 && alive; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((res) => setTimeout(res, 10));
      } catch {
        alive = false;
      }
    }
    assert.isFalse(alive);
  });
});

describe("PythonExecutor.unavailable", () => {
  it("says why it cannot run steps when its python cannot start, so a run refuses it before any work", async () => {
    const missing = new PythonExecutor({ python: "/nonexistent/python3" });
    assert.match((await missing.unavailable())!, /^cannot start \/nonexistent\/python3: /);
    await missing.close();
  });

  it.skipIf(!hasPython)("says nothing when python3 runs", async () => {
    const ok = new PythonExecutor();
    assert.isUndefined(await ok.unavailable());
    await ok.close();
  });
});
