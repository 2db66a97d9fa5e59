import { assert, describe, it } from "vitest";
import type { ExecErrorKind, Step } from "../../math/contracts.ts";
import { clearInterpreterCaches, runCode, runStepSync, SafeExecutor } from "../../math/interpreter.ts";

const step = (code: string, text = "step"): Step => ({ text, code });

describe("runCode: benign programs print exactly the expected value", () => {
  const cases: [string, string][] = [
    ["print(12 * 3)", "36\n"],
    ["x = 3/4\nprint(x + 1)", "7/4\n"],
    ["print(2 ** -1, -2 ** 2, 7 // 2, -7 // 2, -7 % 3, 10 % -3)", "1/2 -4 3 -4 2 -2\n"],
    ["print(0.1 + 0.2)", "3/10\n"],
    ["print(10 / 4, 10 / 5)", "5/2 2\n"],
    ["a, b = 1, 2\nprint((a, b))", "(1, 2)\n"],
    ["x = y = 4\nprint(x + y)", "8\n"],
    ["total = 0\nfor i in range(1, 11):\n    total += i\nprint(total)", "55\n"],
    ["for i in range(3): print(i)", "0\n1\n2\n"],
    ["n = 0\nwhile n < 5:\n    n += 2\nprint(n)", "6\n"],
    ["x = 7\nif x > 5:\n    y = 1\nelif x > 2:\n    y = 2\nelse:\n    y = 3\nprint(y)", "1\n"],
    ["print(3 if 2 > 1 else 4, 1 < 2 < 3, 1 < 3 < 2, not 0)", "3 True False True\n"],
    ["print(gcd(12, 18), lcm(4, 6), comb(5, 2), perm(5, 2), factorial(5))", "6 12 10 20 120\n"],
    ["print(isqrt(17), sqrt(9/4), abs(-3), min(3, 1, 2), max([1, 5]), sum([1, 2, 3]))", "4 3/2 3 1 5 6\n"],
    ["print(round(2.5), round(3.5), round(1/3, 2), round(-2.5))", "2 4 33/100 -2\n"],
    ["print(digit_sum(12345), int(7/2), int(-7/2), float(3))", "15 3 -3 3\n"],
    ["print(sum(range(1, 101)))", "5050\n"],
    ["print(pow(3, 200, 7), divmod(17, 5))", "2 (3, 2)\n"],
    ["print(4 ** (1/2), 8 ** (2/3), (9/4) ** 0.5)", "2 4 3/2\n"],
    ["print(2 ** 100)", "1267650600228229401496703205376\n"],
    ["s = 0\nfor d in str(987):\n    s += int(d)\nprint(s)", "24\n"],
    ["x = 5 # a comment\n# another\nprint(x)", "5\n"],
    ["print(1e3, 2.5e-2, 1_000)", "1000 1/40 1000\n"],
    ["print(True + 1, 3 in [1, 2, 3], len(range(0, 10, 3)))", "2 True 4\n"],
    ["x = [4, 5, 6]\nprint(x[0] + x[-1])", "10\n"],
    ["for i in range(10):\n    if i == 3:\n        break\nprint(i)", "3\n"],
    ["print(Fraction(6, 8))", "3/4\n"],
    // Membership and indexing of a range are computed, whatever its length.
    ["print(5 in range(10 ** 9), range(10 ** 30)[-1], range(3, 100, 7)[2])", "True 999999999999999999999999999999 17\n"],
    ["print(17 in range(3, 100, 7), 18 in range(3, 100, 7), -1 in range(0, -10, -1), 0 in range(0, -10, -1), 1/2 in range(3))", "True False True True False\n"],
    ["print('ab' in 'cab', 'ba' in 'cab', 4 not in (1, 2))", "True False True\n"],
    ["print(" + "9".repeat(600) + " % 7)", "0\n"],
  ];
  for (const [code, out] of cases) {
    it(`prints ${JSON.stringify(out)} for ${JSON.stringify(code.slice(0, 40))}`, () => {
      const r = runCode(code);
      assert.deepEqual(r, { ok: true, stdout: out });
    });
  }
});

describe("runCode: every failure is an error value with kind and line", () => {
  const cases: [string, ExecErrorKind, number][] = [
    ["x = (1 +", "SyntaxError", 1],
    ["x = 1\ny = )", "SyntaxError", 2],
    ["print('abc)", "SyntaxError", 1],
    ["x = 1\n  y = 2", "SyntaxError", 2],
    ["3x = 5", "SyntaxError", 1],
    ["y = x + 1", "NameError", 1],
    ["a = 1\nb = c", "NameError", 2],
    ["print(1 / 0)", "ZeroDivisionError", 1],
    ["print(5 // 0)", "ZeroDivisionError", 1],
    ["print(5 % 0)", "ZeroDivisionError", 1],
    ["print(0 ** -1)", "ZeroDivisionError", 1],
    ["print(1 + 'a')", "TypeError", 1],
    ["x = 5\nx(3)", "TypeError", 2],
    ["print(comb(5.5, 2))", "TypeError", 1],
    ["print(abs(1, 2))", "TypeError", 1],
    ["print(sqrt(2))", "ValueError", 1],
    ["print(factorial(-1))", "ValueError", 1],
    ["a, b = 1, 2, 3", "ValueError", 1],
    ["print(int('x'))", "ValueError", 1],
    ["x = 10 ** 10 ** 10", "LimitExceeded", 1],
    ["while True:\n    pass", "LimitExceeded", 1],
    ["import os", "Unsupported", 1],
    ["from math import gcd", "Unsupported", 1],
    ["x = ().__class__", "Unsupported", 1],
    ["x = (1).real", "Unsupported", 1],
    ["eval('1 + 1')", "Unsupported", 1],
    ["exec('x = 1')", "Unsupported", 1],
    ["x = 1\nbreak", "SyntaxError", 2],
    ["print(1 is 1)", "Unsupported", 1],
    ["for i in range(2):\n    pass\ncontinue", "SyntaxError", 3],
    ["open('/etc/passwd')", "Unsupported", 1],
    ["__import__('os')", "Unsupported", 1],
    ["f = lambda: 1", "Unsupported", 1],
    ["def f():\n    return 1", "Unsupported", 1],
    ["x = {1: 2}", "Unsupported", 1],
    ["print(1 ^ 2)", "Unsupported", 1],
    ["print(sum(i for i in range(3)))", "Unsupported", 1],
    ["print(f'{1}')", "Unsupported", 1],
  ];
  for (const [code, kind, line] of cases) {
    it(`reports ${kind} on line ${line} for ${JSON.stringify(code.slice(0, 40))}`, () => {
      const r = runCode(code);
      assert.isFalse(r.ok);
      assert.equal(r.error?.kind, kind, r.error?.message);
      assert.equal(r.error?.line, line);
      assert.match(r.error!.message, /^[A-Z]/);
    });
  }

  it("keeps what was printed before the failure", () => {
    const r = runCode("print(1)\nprint(1 / 0)");
    assert.equal(r.stdout, "1\n");
    assert.equal(r.error?.kind, "ZeroDivisionError");
  });
});

describe("runCode: hostile code is stopped by a limit and the process stays healthy", () => {
  const hostile: [string, string][] = [
    ["infinite while loop", "while True:\n    pass"],
    ["infinite loop with work", "x = 0\nwhile 1:\n    x = x + 1"],
    ["huge range loop", "for i in range(10 ** 12):\n    pass"],
    ["nested loops", "for i in range(100000):\n    for j in range(100000):\n        x = i * j"],
    ["tower of powers", "x = 10 ** 10 ** 10"],
    ["giant power", "x = 2 ** 100000000"],
    ["repeated squaring", "x = 3\nfor i in range(100):\n    x = x * x"],
    ["huge factorial", "x = factorial(10 ** 6)"],
    ["huge comb", "x = comb(10 ** 9, 10 ** 5)"],
    ["factorial of a number too big for a double", "x = factorial(10 ** 400)"],
    ["perm of a number too big for a double", "x = perm(10 ** 400, 3)"],
    ["huge string", "s = 'a' * 10 ** 9"],
    ["string doubling", "s = 'ab'\nwhile True:\n    s = s + s"],
    ["list doubling", "s = [1]\nwhile True:\n    s = s * 2"],
    ["deep parentheses", "x = " + "(".repeat(5000) + "1" + ")".repeat(5000)],
    ["deep unary minus", "x = " + "-".repeat(10000) + "1"],
    ["long chain", "x = " + "1 + ".repeat(4000) + "1"],
    ["deep power chain", "x = " + "2 ** ".repeat(3000) + "2"],
    ["deep not chain", "x = " + "not ".repeat(5000) + "1"],
    ["output flood", "while True:\n    print(123456789)"],
    ["attribute escape", "x = ().__class__.__bases__[0].__subclasses__()"],
    ["constructor escape", "x = print.constructor('return process')()"],
    ["import", "import os\nos.system('echo hi')"],
    ["eval", "eval('__import__(\"os\")')"],
    ["globalThis", "globalThis"],
    ["huge literal", "x = " + "9".repeat(3000)],
    ["huge code", "x = 1\n".repeat(20000)],
    ["huge text from a list", "s = 'a' * 10000\nt = [s] * 100000\nx = str(t)"],
    ["huge print of a list", "s = 'a' * 10000\nt = [s] * 100000\nprint(t)"],
    ["deeply nested list", "x = [1]\nwhile True:\n    x = [x]"],
    ["unpacking a huge range", "a, b = range(10 ** 9)"],
    ["a list of a huge range", "x = list(range(10 ** 9))"],
    ["membership in a list of a huge range", "x = 5 in list(range(10 ** 9))"],
  ];
  for (const [name, code] of hostile) {
    it(`stops ${name}`, () => {
      // A generous wall limit, so the deterministic budgets (operations, bits, lengths, depth) are what stop it.
      const r = runCode(code, { maxWallMs: 60_000 });
      assert.isFalse(r.ok);
      assert.isDefined(r.error);
      assert.include(["LimitExceeded", "Unsupported", "NameError", "SyntaxError"], r.error!.kind);
      assert.notMatch(r.error!.message, /time limit/);
      assert.deepEqual(runCode("print(6 * 7)"), { ok: true, stdout: "42\n" });
    });
  }

  it("stops a long-running loop at the wall-time limit", () => {
    const r = runCode("x = 0\nwhile True:\n    x = x + 1", { maxOps: 1e15, maxIterations: 1e15, maxWallMs: 20 });
    assert.equal(r.error?.kind, "LimitExceeded");
    assert.match(r.error!.message, /time limit/);
  });
});

describe("runStepSync", () => {
  const path = [step("total = 4 * 3"), step("left = total - 5")];

  it("runs a step in the environment its path built and reports only its own output", () => {
    const r = runStepSync([...path, step("print('noise')\nx = 1")], step("print(left - 4)"));
    assert.deepEqual(r, { ok: true, stdout: "3\n" });
  });

  it("reports error lines relative to the step's own code", () => {
    const r = runStepSync(path, step("a = left\nb = missing"));
    assert.equal(r.error?.kind, "NameError");
    assert.equal(r.error?.line, 2);
  });

  it("gives the same result from a warm cache as from a cold one", () => {
    clearInterpreterCaches();
    const cold = runStepSync(path, step("print(left * 2)"));
    const warm = runStepSync(path, step("print(left * 2)"));
    assert.deepEqual(cold, warm);
    assert.deepEqual(warm, { ok: true, stdout: "14\n" });
  });

  it("does not let one step's assignments leak into a sibling", () => {
    runStepSync(path, step("secret = 99"));
    const r = runStepSync(path, step("print(secret)"));
    assert.equal(r.error?.kind, "NameError");
  });

  it("does not let a step change the cached prefix environment", () => {
    runStepSync(path, step("left = 1000"));
    assert.deepEqual(runStepSync(path, step("print(left)")), { ok: true, stdout: "7\n" });
  });

  it("reports a failing prefix step as an error on line 0", () => {
    const r = runStepSync([step("x = 1 / 0")], step("print(1)"));
    assert.isFalse(r.ok);
    assert.equal(r.error?.kind, "ZeroDivisionError");
    assert.equal(r.error?.line, 0);
  });

  it("applies the given limits", () => {
    const r = runStepSync([], step("for i in range(50):\n    pass"), { maxIterations: 10 });
    assert.equal(r.error?.kind, "LimitExceeded");
    assert.isTrue(runStepSync([], step("for i in range(50):\n    pass")).ok);
  });
});

describe("SafeExecutor", () => {
  it("implements StepExecutor with the built-in interpreter", async () => {
    const ex = new SafeExecutor();
    assert.equal(ex.name, "builtin");
    assert.deepEqual(await ex.runStep([step("x = 2")], step("print(x ** 10)")), { ok: true, stdout: "1024\n" });
    await ex.close();
  });
});
