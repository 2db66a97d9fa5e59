/**
 * The step language: a small, safe Python subset with exact rational arithmetic.
 *
 * Parsing turns code into an AST (cached by code string in a bounded cache); evaluation walks it
 * with operation, loop, integer-size, output and wall-time limits. Every failure is an
 * `ExecError` value; nothing throws out and nothing hangs. Step execution caches the environment
 * each prefix of steps builds, so a step is run in its path's environment without re-running
 * the path. See docs/STEP_LANGUAGE.md for the language and its limits.
 */
import type { ExecError, ExecErrorKind, ExecResult, Step, StepExecutor } from "./contracts.ts";
import { bigGcd, bitLength, Rational } from "./rational.ts";

/** Limits on one run; each step of a path gets a fresh budget. */
export interface ExecLimits {
  /** Evaluation operations (AST nodes visited). */
  readonly maxOps: number;
  /** Bits of any integer (numerator or denominator) a computation may produce. */
  readonly maxIntBits: number;
  /** Loop iterations, all loops together. */
  readonly maxIterations: number;
  /** Characters `print` may write. */
  readonly maxOutputChars: number;
  /** Characters of any string value. */
  readonly maxStringChars: number;
  /** Wall time in milliseconds, checked every 1024 operations. */
  readonly maxWallMs: number;
  /** Nesting depth of expressions and blocks. */
  readonly maxDepth: number;
  /** Characters of source code. */
  readonly maxCodeChars: number;
}

/** Default limits: generous for solution steps, tight enough that hostile code fails fast. */
export const DEFAULT_LIMITS: ExecLimits = {
  maxOps: 200_000,
  maxIntBits: 4096,
  maxIterations: 100_000,
  maxOutputChars: 10_000,
  maxStringChars: 10_000,
  maxWallMs: 500,
  maxDepth: 200,
  maxCodeChars: 20_000,
};

// ---------------------------------------------------------------------------------------------
// Values

/** A tuple or list value. */
class Seq {
  constructor(readonly kind: "tuple" | "list", readonly items: readonly Value[]) {}
}

/** A lazy `range(...)`. */
class RangeVal {
  constructor(readonly start: bigint, readonly stop: bigint, readonly step: bigint) {}
  length(): bigint {
    const { start, stop, step } = this;
    if (step > 0n) return stop > start ? (stop - start + step - 1n) / step : 0n;
    return start > stop ? (start - stop - step - 1n) / -step : 0n;
  }

  /** Element `k` (0 ≤ k < length), computed, not enumerated. */
  at(k: bigint): bigint {
    return this.start + k * this.step;
  }

  /** Whether the integer `x` is an element, computed, not enumerated. */
  has(x: bigint): boolean {
    const { start, step } = this;
    const k = (x - start) / step;
    return (x - start) % step === 0n && k >= 0n && k < this.length();
  }
}

/** A built-in function value. */
class Builtin {
  constructor(readonly name: string, readonly fn: (args: Value[], line: number, it: Interp) => Value) {}
}

type Value = Rational | boolean | string | null | Seq | RangeVal | Builtin;

/** Internal carrier of an execution error through the evaluator (never escapes this module). */
class Fail {
  constructor(readonly error: ExecError) {}
}

function fail(kind: ExecErrorKind, message: string, line: number): never {
  throw new Fail({ kind, message, line });
}

// ---------------------------------------------------------------------------------------------
// Tokens

type TokKind = "num" | "name" | "str" | "op" | "newline" | "indent" | "dedent" | "eof";

interface Token {
  readonly kind: TokKind;
  readonly text: string;
  readonly line: number;
}

const KEYWORDS = new Set([
  "for", "in", "if", "elif", "else", "while", "and", "or", "not", "True", "False", "None",
  "pass", "break", "continue",
]);
const UNSUPPORTED_KEYWORDS = new Set([
  "import", "from", "def", "class", "lambda", "return", "yield", "global", "nonlocal", "with",
  "try", "except", "finally", "raise", "del", "assert", "async", "await", "is",
]);
const OPS3 = ["**=", "//=", ">>=", "<<="];
const OPS2 = ["**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "<<", ">>", "->", ":=", "&=", "|=", "^="];
const OPS1 = "+-*/%<>=()[]{},:;.|&^~@!";

function isIdentStart(ch: number): boolean {
  return (ch >= 97 && ch <= 122) || (ch >= 65 && ch <= 90) || ch === 95;
}

function isIdentPart(ch: number): boolean {
  return isIdentStart(ch) || (ch >= 48 && ch <= 57);
}

function tokenize(code: string, limits: ExecLimits): Token[] {
  const toks: Token[] = [];
  const indents = [0];
  let i = 0;
  let line = 1;
  let depth = 0; // bracket depth: newlines inside brackets are ignored
  let atLineStart = true;
  const n = code.length;
  while (i < n) {
    if (atLineStart && depth === 0) {
      // Measure indentation; skip blank and comment-only lines.
      let col = 0;
      let j = i;
      while (j < n && (code[j] === " " || code[j] === "\t")) {
        col += code[j] === "\t" ? 8 - (col % 8) : 1;
        j++;
      }
      if (j >= n) break;
      if (code[j] === "\n" || code[j] === "\r" || code[j] === "#") {
        while (j < n && code[j] !== "\n") j++;
        i = j + 1;
        line++;
        continue;
      }
      i = j;
      atLineStart = false;
      const top = indents[indents.length - 1]!;
      if (col > top) {
        indents.push(col);
        if (indents.length > limits.maxDepth) fail("LimitExceeded", "Cannot parse code: blocks nest too deeply", line);
        toks.push({ kind: "indent", text: "", line });
      } else if (col < top) {
        while (col < indents[indents.length - 1]!) {
          indents.pop();
          toks.push({ kind: "dedent", text: "", line });
        }
        if (col !== indents[indents.length - 1]) fail("SyntaxError", "Cannot parse code: unindent does not match any outer level", line);
      }
    }
    const c = code[i]!;
    if (c === "\n") {
      if (depth === 0) {
        toks.push({ kind: "newline", text: "", line });
        atLineStart = true;
      }
      line++;
      i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < n && code[i] !== "\n") i++;
      continue;
    }
    if (c === "\\" && code[i + 1] === "\n") {
      i += 2;
      line++;
      continue;
    }
    if ((c >= "0" && c <= "9") || (c === "." && code[i + 1] !== undefined && code[i + 1]! >= "0" && code[i + 1]! <= "9")) {
      // The literal runs to the first character no number has (integers are bounded later, by bits).
      let end = i;
      while (end < n && /[\d_.eE+-]/.test(code[end]!)) end++;
      const m = /^(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][+-]?\d+)?/.exec(code.slice(i, end));
      const text = m![0];
      if (/^[A-Za-z_]/.test(code[i + text.length] ?? "")) {
        fail("SyntaxError", `Cannot parse number: invalid literal "${code.slice(i, i + text.length + 1)}"`, line);
      }
      toks.push({ kind: "num", text: text.replaceAll("_", ""), line });
      i += text.length;
      continue;
    }
    if (isIdentStart(code.charCodeAt(i))) {
      let j = i + 1;
      while (j < n && isIdentPart(code.charCodeAt(j))) j++;
      const text = code.slice(i, j);
      if ((code[j] === "'" || code[j] === '"') && /^[rRbBfFuU]{1,2}$/.test(text)) {
        fail("Unsupported", `Cannot parse string: ${text}-prefixed strings are not supported`, line);
      }
      toks.push({ kind: "name", text, line });
      i = j;
      continue;
    }
    if (c === "'" || c === '"') {
      if (code.startsWith(c.repeat(3), i)) fail("Unsupported", "Cannot parse string: triple-quoted strings are not supported", line);
      let j = i + 1;
      let s = "";
      while (j < n && code[j] !== c) {
        if (code[j] === "\n") fail("SyntaxError", "Cannot parse string: unterminated string literal", line);
        if (code[j] === "\\" && j + 1 < n) {
          const e = code[j + 1]!;
          s += e === "n" ? "\n" : e === "t" ? "\t" : e;
          j += 2;
        } else {
          s += code[j];
          j++;
        }
      }
      if (j >= n) fail("SyntaxError", "Cannot parse string: unterminated string literal", line);
      toks.push({ kind: "str", text: s, line });
      i = j + 1;
      continue;
    }
    const three = code.slice(i, i + 3);
    const two = code.slice(i, i + 2);
    let op: string | undefined;
    if (OPS3.includes(three)) op = three;
    else if (OPS2.includes(two)) op = two;
    else if (OPS1.includes(c)) op = c;
    if (op === undefined) fail("SyntaxError", `Cannot parse code: unexpected character "${c}"`, line);
    if (op === "(" || op === "[" || op === "{") depth++;
    if (op === ")" || op === "]" || op === "}") depth = Math.max(0, depth - 1);
    toks.push({ kind: "op", text: op, line });
    i += op.length;
  }
  if (toks.length > 0 && toks[toks.length - 1]!.kind !== "newline") toks.push({ kind: "newline", text: "", line });
  while (indents.length > 1) {
    indents.pop();
    toks.push({ kind: "dedent", text: "", line });
  }
  toks.push({ kind: "eof", text: "", line });
  return toks;
}

// ---------------------------------------------------------------------------------------------
// AST

type Expr =
  | { t: "num"; v: Rational; line: number }
  | { t: "const"; v: Value; line: number }
  | { t: "name"; id: string; line: number }
  | { t: "bin"; op: string; l: Expr; r: Expr; line: number }
  | { t: "unary"; op: string; e: Expr; line: number }
  | { t: "cmp"; ops: string[]; items: Expr[]; line: number }
  | { t: "bool"; op: "and" | "or"; l: Expr; r: Expr; line: number }
  | { t: "not"; e: Expr; line: number }
  | { t: "cond"; c: Expr; a: Expr; b: Expr; line: number }
  | { t: "call"; f: Expr; args: Expr[]; line: number }
  | { t: "index"; e: Expr; i: Expr; line: number }
  | { t: "seq"; kind: "tuple" | "list"; items: Expr[]; line: number };

type Target = { t: "name"; id: string } | { t: "tuple"; items: Target[] };

type Stmt =
  | { t: "expr"; e: Expr; line: number }
  | { t: "assign"; targets: Target[]; e: Expr; line: number }
  | { t: "aug"; id: string; op: string; e: Expr; line: number }
  | { t: "for"; target: Target; iter: Expr; body: Stmt[]; line: number }
  | { t: "while"; c: Expr; body: Stmt[]; line: number }
  | { t: "if"; c: Expr; body: Stmt[]; orelse: Stmt[]; line: number }
  | { t: "pass" | "break" | "continue"; line: number };

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly toks: Token[], private readonly limits: ExecLimits) {}

  private peek(): Token {
    return this.toks[this.pos]!;
  }
  private next(): Token {
    return this.toks[this.pos++]!;
  }
  private isOp(text: string): boolean {
    const t = this.toks[this.pos]!;
    return t.kind === "op" && t.text === text;
  }
  private isName(text: string): boolean {
    const t = this.toks[this.pos]!;
    return t.kind === "name" && t.text === text;
  }
  private expectOp(text: string): Token {
    const t = this.next();
    if (t.kind !== "op" || t.text !== text) this.unexpected(t, `expected "${text}"`);
    return t;
  }
  private unexpected(t: Token, why: string): never {
    const what = t.kind === "newline" ? "end of line" : t.kind === "eof" ? "end of code" : t.kind === "indent" ? "indent" : t.kind === "dedent" ? "dedent" : `"${t.text}"`;
    if (t.kind === "indent") fail("SyntaxError", "Cannot parse code: unexpected indent", t.line);
    fail("SyntaxError", `Cannot parse code: ${why}, got ${what}`, t.line);
  }
  private enter(line: number): void {
    if (++this.depth > this.limits.maxDepth) fail("LimitExceeded", "Cannot parse code: expression nests too deeply", line);
  }

  program(): Stmt[] {
    const out: Stmt[] = [];
    while (this.peek().kind !== "eof") {
      if (this.peek().kind === "newline") {
        this.next();
        continue;
      }
      out.push(...this.statement());
    }
    return out;
  }

  private statement(): Stmt[] {
    const t = this.peek();
    if (t.kind === "indent") fail("SyntaxError", "Cannot parse code: unexpected indent", t.line);
    if (t.kind === "name") {
      if (UNSUPPORTED_KEYWORDS.has(t.text)) fail("Unsupported", `Cannot run code: "${t.text}" is not supported in the step language`, t.line);
      if (t.text === "for") return [this.forStmt()];
      if (t.text === "while") return [this.whileStmt()];
      if (t.text === "if") return [this.ifStmt()];
    }
    const out: Stmt[] = [this.simple()];
    while (this.isOp(";")) {
      this.next();
      if (this.peek().kind === "newline") break;
      out.push(this.simple());
    }
    const end = this.next();
    if (end.kind !== "newline") this.unexpected(end, "expected end of statement");
    return out;
  }

  private suite(): Stmt[] {
    this.expectOp(":");
    this.enter(this.peek().line);
    let body: Stmt[];
    if (this.peek().kind === "newline") {
      this.next();
      const ind = this.next();
      if (ind.kind !== "indent") fail("SyntaxError", "Cannot parse code: expected an indented block", ind.line);
      body = [];
      while (this.peek().kind !== "dedent" && this.peek().kind !== "eof") body.push(...this.statement());
      if (this.peek().kind === "dedent") this.next();
    } else {
      body = [this.simple()];
      while (this.isOp(";")) {
        this.next();
        if (this.peek().kind === "newline") break;
        body.push(this.simple());
      }
      const end = this.next();
      if (end.kind !== "newline") this.unexpected(end, "expected end of statement");
    }
    this.depth--;
    return body;
  }

  private forStmt(): Stmt {
    const line = this.next().line;
    const first = this.arith();
    const items = [first];
    while (this.isOp(",")) {
      this.next();
      items.push(this.arith());
    }
    const target = this.target(items.length === 1 ? first : { t: "seq", kind: "tuple", items, line });
    if (!this.isName("in")) this.unexpected(this.peek(), 'expected "in"');
    this.next();
    const iter = this.exprList();
    return { t: "for", target, iter, body: this.loopBody(), line };
  }

  private whileStmt(): Stmt {
    const line = this.next().line;
    const c = this.expr();
    return { t: "while", c, body: this.loopBody(), line };
  }

  /** Loops the parser is inside: `break` and `continue` outside every loop are syntax errors. */
  private loops = 0;

  private loopBody(): Stmt[] {
    this.loops++;
    try {
      return this.suite();
    } finally {
      this.loops--;
    }
  }

  private ifStmt(): Stmt {
    const line = this.next().line;
    const c = this.expr();
    const body = this.suite();
    let orelse: Stmt[] = [];
    if (this.isName("elif")) orelse = [this.ifStmt()];
    else if (this.isName("else")) {
      this.next();
      orelse = this.suite();
    }
    return { t: "if", c, body, orelse, line };
  }

  private simple(): Stmt {
    const t = this.peek();
    if (t.kind === "name") {
      if (UNSUPPORTED_KEYWORDS.has(t.text)) fail("Unsupported", `Cannot run code: "${t.text}" is not supported in the step language`, t.line);
      if (t.text === "pass" || t.text === "break" || t.text === "continue") {
        if (t.text !== "pass" && this.loops === 0) fail("SyntaxError", `Cannot parse code: "${t.text}" outside a loop`, t.line);
        this.next();
        return { t: t.text, line: t.line };
      }
      if (t.text === "for" || t.text === "while" || t.text === "if") {
        fail("SyntaxError", `Cannot parse code: "${t.text}" must start its own line`, t.line);
      }
    }
    const first = this.exprList();
    const op = this.peek();
    if (op.kind === "op" && op.text.length >= 2 && op.text.endsWith("=") && !["==", "!=", "<=", ">="].includes(op.text)) {
      if (op.text === ":=" ) fail("Unsupported", "Cannot run code: assignment expressions are not supported", op.line);
      this.next();
      const tgt = this.target(first);
      if (tgt.t !== "name") fail("SyntaxError", "Cannot parse code: augmented assignment needs a single name", op.line);
      const e = this.exprList();
      return { t: "aug", id: tgt.id, op: op.text.slice(0, -1), e, line: t.line };
    }
    if (this.isOp("=")) {
      const targets: Target[] = [this.target(first)];
      let e = first;
      while (this.isOp("=")) {
        this.next();
        e = this.exprList();
        if (this.isOp("=")) targets.push(this.target(e));
      }
      return { t: "assign", targets, e, line: t.line };
    }
    return { t: "expr", e: first, line: t.line };
  }

  private target(e: Expr): Target {
    if (e.t === "name") {
      if (e.id.startsWith("__")) fail("Unsupported", `Cannot assign "${e.id}": dunder names are not supported`, e.line);
      return { t: "name", id: e.id };
    }
    if (e.t === "seq" && e.kind === "tuple") return { t: "tuple", items: e.items.map((x) => this.target(x)) };
    if (e.t === "index") fail("Unsupported", "Cannot assign to an item: item assignment is not supported", e.line);
    fail("SyntaxError", "Cannot parse code: cannot assign to an expression", e.line);
  }

  /** expr (',' expr)* — a bare comma list is a tuple. */
  private exprList(): Expr {
    const first = this.expr();
    if (!this.isOp(",")) return first;
    const items = [first];
    while (this.isOp(",")) {
      this.next();
      const p = this.peek();
      if (p.kind === "newline" || (p.kind === "op" && (p.text === "=" || p.text === ")" || p.text === ":"))) break;
      items.push(this.expr());
    }
    return { t: "seq", kind: "tuple", items, line: first.line };
  }

  expr(): Expr {
    const line = this.peek().line;
    if (this.isName("lambda")) fail("Unsupported", 'Cannot run code: "lambda" is not supported in the step language', line);
    this.enter(line);
    const a = this.orTest();
    let out = a;
    if (this.isName("if")) {
      this.next();
      const c = this.orTest();
      if (!this.isName("else")) this.unexpected(this.peek(), 'expected "else"');
      this.next();
      const b = this.expr();
      out = { t: "cond", c, a, b, line };
    }
    this.depth--;
    return out;
  }

  private orTest(): Expr {
    const d0 = this.depth;
    let l = this.andTest();
    while (this.isName("or")) {
      const line = this.next().line;
      this.enter(line);
      l = { t: "bool", op: "or", l, r: this.andTest(), line };
    }
    this.depth = d0;
    return l;
  }

  private andTest(): Expr {
    const d0 = this.depth;
    let l = this.notTest();
    while (this.isName("and")) {
      const line = this.next().line;
      this.enter(line);
      l = { t: "bool", op: "and", l, r: this.notTest(), line };
    }
    this.depth = d0;
    return l;
  }

  private notTest(): Expr {
    if (this.isName("not")) {
      const line = this.next().line;
      this.enter(line);
      const e = this.notTest();
      this.depth--;
      return { t: "not", e, line };
    }
    return this.comparison();
  }

  private comparison(): Expr {
    const first = this.arith();
    const ops: string[] = [];
    const items = [first];
    for (;;) {
      const t = this.peek();
      if (t.kind === "op" && ["<", ">", "==", "!=", "<=", ">="].includes(t.text)) {
        this.next();
        ops.push(t.text);
      } else if (t.kind === "name" && t.text === "in") {
        this.next();
        ops.push("in");
      } else if (t.kind === "name" && t.text === "not" && this.toks[this.pos + 1]?.text === "in") {
        this.next();
        this.next();
        ops.push("not in");
      } else if (t.kind === "name" && t.text === "is") {
        fail("Unsupported", `Cannot run code: "is" is not supported in the step language (use ==)`, t.line);
      } else break;
      items.push(this.arith());
    }
    return ops.length === 0 ? first : { t: "cmp", ops, items, line: first.line };
  }

  private arith(): Expr {
    const d0 = this.depth;
    let l = this.term();
    for (;;) {
      const t = this.peek();
      if (t.kind !== "op") break;
      if (t.text === "+" || t.text === "-") {
        this.next();
        this.enter(t.line);
        l = { t: "bin", op: t.text, l, r: this.term(), line: t.line };
      } else if (["|", "&", "^", "<<", ">>"].includes(t.text)) {
        fail("Unsupported", `Cannot run code: bitwise operator "${t.text}" is not supported (use ** for powers)`, t.line);
      } else break;
    }
    this.depth = d0;
    return l;
  }

  private term(): Expr {
    const d0 = this.depth;
    let l = this.factor();
    for (;;) {
      const t = this.peek();
      if (t.kind === "op" && (t.text === "*" || t.text === "/" || t.text === "//" || t.text === "%")) {
        this.next();
        this.enter(t.line);
        l = { t: "bin", op: t.text, l, r: this.factor(), line: t.line };
      } else if (t.kind === "op" && t.text === "@") {
        fail("Unsupported", 'Cannot run code: operator "@" is not supported', t.line);
      } else break;
    }
    this.depth = d0;
    return l;
  }

  private factor(): Expr {
    const t = this.peek();
    if (t.kind === "op" && (t.text === "-" || t.text === "+")) {
      this.next();
      this.enter(t.line);
      const e = this.factor();
      this.depth--;
      return { t: "unary", op: t.text, e, line: t.line };
    }
    if (t.kind === "op" && t.text === "~") fail("Unsupported", 'Cannot run code: bitwise operator "~" is not supported', t.line);
    return this.power();
  }

  private power(): Expr {
    const base = this.primary();
    if (this.isOp("**")) {
      const line = this.next().line;
      this.enter(line);
      const e = this.factor();
      this.depth--;
      return { t: "bin", op: "**", l: base, r: e, line };
    }
    return base;
  }

  private primary(): Expr {
    let e = this.atom();
    for (;;) {
      const t = this.peek();
      if (t.kind !== "op") break;
      if (t.text === "(") {
        this.next();
        this.enter(t.line);
        const args: Expr[] = [];
        while (!this.isOp(")")) {
          if (this.peek().kind === "name" && this.toks[this.pos + 1]?.text === "=") {
            fail("Unsupported", "Cannot run code: keyword arguments are not supported", t.line);
          }
          if (this.isOp("*") || this.isOp("**")) fail("Unsupported", "Cannot run code: argument unpacking is not supported", t.line);
          args.push(this.expr());
          if (this.isName("for")) fail("Unsupported", "Cannot run code: generator expressions are not supported (use a for loop)", t.line);
          if (!this.isOp(",")) break;
          this.next();
        }
        this.expectOp(")");
        e = { t: "call", f: e, args, line: t.line };
      } else if (t.text === "[") {
        this.next();
        this.enter(t.line);
        if (this.isOp(":")) fail("Unsupported", "Cannot run code: slices are not supported", t.line);
        const i = this.expr();
        if (this.isOp(":")) fail("Unsupported", "Cannot run code: slices are not supported", t.line);
        this.expectOp("]");
        e = { t: "index", e, i, line: t.line };
      } else if (t.text === ".") {
        fail("Unsupported", "Cannot run code: attribute access is not supported", t.line);
      } else break;
    }
    return e;
  }

  private atom(): Expr {
    const t = this.next();
    switch (t.kind) {
      case "num": {
        const v = Rational.parse(t.text);
        if (v === undefined) fail("SyntaxError", `Cannot parse number: invalid literal "${t.text}"`, t.line);
        if (bitLength(v.num) > this.limits.maxIntBits || bitLength(v.den) > this.limits.maxIntBits) {
          fail("LimitExceeded", "Cannot parse number: literal is too large", t.line);
        }
        return { t: "num", v, line: t.line };
      }
      case "str":
        if (t.text.length > this.limits.maxStringChars) fail("LimitExceeded", "Cannot parse string: literal is too long", t.line);
        return { t: "const", v: t.text, line: t.line };
      case "name": {
        if (t.text === "True") return { t: "const", v: true, line: t.line };
        if (t.text === "False") return { t: "const", v: false, line: t.line };
        if (t.text === "None") return { t: "const", v: null, line: t.line };
        if (UNSUPPORTED_KEYWORDS.has(t.text)) fail("Unsupported", `Cannot run code: "${t.text}" is not supported in the step language`, t.line);
        if (KEYWORDS.has(t.text)) this.unexpected(t, "expected an expression");
        if (t.text.startsWith("__")) fail("Unsupported", `Cannot run code: dunder name "${t.text}" is not supported`, t.line);
        return { t: "name", id: t.text, line: t.line };
      }
      case "op": {
        if (t.text === "(") {
          this.enter(t.line);
          if (this.isOp(")")) {
            this.next();
            this.depth--;
            return { t: "seq", kind: "tuple", items: [], line: t.line };
          }
          const e = this.exprList();
          if (this.isName("for")) fail("Unsupported", "Cannot run code: generator expressions are not supported (use a for loop)", t.line);
          this.expectOp(")");
          this.depth--;
          return e;
        }
        if (t.text === "[") {
          this.enter(t.line);
          const items: Expr[] = [];
          while (!this.isOp("]")) {
            items.push(this.expr());
            if (this.isName("for")) fail("Unsupported", "Cannot run code: list comprehensions are not supported (use a for loop)", t.line);
            if (!this.isOp(",")) break;
            this.next();
          }
          this.expectOp("]");
          this.depth--;
          return { t: "seq", kind: "list", items, line: t.line };
        }
        if (t.text === "{") fail("Unsupported", "Cannot run code: sets and dicts are not supported", t.line);
        return this.unexpected(t, "expected an expression");
      }
      default:
        return this.unexpected(t, "expected an expression");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Caches

/**
 * A bounded map that forgets its oldest entries first (Map's insertion order). A lookup does not
 * move its entry to the back, as an LRU's would: that costs a delete and an insert of a long key
 * on every hit, and a search's entries are used while its tree grows, then never again.
 */
class BoundedCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly capacity: number) {}
  get(k: K): V | undefined {
    return this.map.get(k);
  }
  set(k: K, v: V): void {
    const had = this.map.has(k);
    this.map.set(k, v);
    if (!had && this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }
  clear(): void {
    this.map.clear();
  }
}

type Parsed = { ok: true; prog: Stmt[] } | { ok: false; error: ExecError };

const parseCache = new BoundedCache<string, Parsed>(8192);
const limitsKey = (l: ExecLimits) => `${l.maxDepth}:${l.maxIntBits}:${l.maxStringChars}:${l.maxCodeChars}`;

function parseCached(code: string, limits: ExecLimits): Parsed {
  const key = limits === DEFAULT_LIMITS ? code : `${limitsKey(limits)}\u0001${code}`;
  const hit = parseCache.get(key);
  if (hit) return hit;
  let out: Parsed;
  try {
    if (code.length > limits.maxCodeChars) fail("LimitExceeded", `Cannot parse code: longer than ${limits.maxCodeChars} characters`, 1);
    out = { ok: true, prog: new Parser(tokenize(code, limits), limits).program() };
  } catch (e) {
    out = { ok: false, error: toError(e) };
  }
  parseCache.set(key, out);
  return out;
}

function toError(e: unknown): ExecError {
  if (e instanceof Fail) return e.error;
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return { kind: "LimitExceeded", message: "Cannot run code: nesting exceeds the stack", line: 0 };
  }
  if (e instanceof RangeError) return { kind: "LimitExceeded", message: `Cannot run code: ${e.message}`, line: 0 };
  return { kind: "Unsupported", message: `Cannot run code: ${e instanceof Error ? e.message : String(e)}`, line: 0 };
}

/** Checks whether code parses; returns the error when it does not (cached). */
export function parseError(code: string, limits: Partial<ExecLimits> = {}): ExecError | undefined {
  const p = parseCached(code, resolve(limits));
  return p.ok ? undefined : p.error;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

type Env = Map<string, Value>;

class BreakSignal {}
class ContinueSignal {}
const BREAK = new BreakSignal();
const CONTINUE = new ContinueSignal();

class Interp {
  ops = 0;
  iterations = 0;
  out = "";
  private readonly deadline: number;
  constructor(readonly env: Env, readonly limits: ExecLimits) {
    this.deadline = performance.now() + limits.maxWallMs;
  }

  tick(line: number): void {
    if (++this.ops > this.limits.maxOps) fail("LimitExceeded", `Cannot finish: more than ${this.limits.maxOps} operations`, line);
    if ((this.ops & 1023) === 0 && performance.now() > this.deadline) {
      fail("LimitExceeded", `Cannot finish: exceeded the ${this.limits.maxWallMs} ms time limit`, line);
    }
  }

  loopTick(line: number): void {
    if (++this.iterations > this.limits.maxIterations) {
      fail("LimitExceeded", `Cannot finish: more than ${this.limits.maxIterations} loop iterations`, line);
    }
    this.tick(line);
  }

  checkNum(r: Rational, line: number): Rational {
    const max = this.limits.maxIntBits;
    if ((r.num > 0n ? r.num : -r.num) >= 1n << 53n || r.den >= 1n << 53n) {
      if (bitLength(r.num) > max || bitLength(r.den) > max) fail("LimitExceeded", `Cannot compute: number exceeds ${max} bits`, line);
    }
    return r;
  }

  run(prog: readonly Stmt[]): void {
    for (const s of prog) this.exec(s);
  }

  exec(s: Stmt): void {
    this.tick(s.line);
    switch (s.t) {
      case "expr":
        this.eval(s.e);
        return;
      case "assign": {
        const v = this.eval(s.e);
        for (const t of s.targets) this.assign(t, v, s.line);
        return;
      }
      case "aug": {
        const cur = this.env.get(s.id);
        if (cur === undefined) fail("NameError", `Cannot update "${s.id}": name is not defined`, s.line);
        this.env.set(s.id, this.binop(s.op, cur, this.eval(s.e), s.line));
        return;
      }
      case "for": {
        const it = this.eval(s.iter);
        for (const v of this.iterate(it, s.line)) {
          this.loopTick(s.line);
          this.assign(s.target, v, s.line);
          try {
            for (const b of s.body) this.exec(b);
          } catch (e) {
            if (e === BREAK) break;
            if (e === CONTINUE) continue;
            throw e;
          }
        }
        return;
      }
      case "while": {
        while (truthy(this.eval(s.c))) {
          this.loopTick(s.line);
          try {
            for (const b of s.body) this.exec(b);
          } catch (e) {
            if (e === BREAK) break;
            if (e === CONTINUE) continue;
            throw e;
          }
        }
        return;
      }
      case "if":
        for (const b of truthy(this.eval(s.c)) ? s.body : s.orelse) this.exec(b);
        return;
      case "pass":
        return;
      case "break":
        throw BREAK;
      case "continue":
        throw CONTINUE;
    }
  }

  assign(t: Target, v: Value, line: number): void {
    if (t.t === "name") {
      this.env.set(t.id, v);
      return;
    }
    const items = [...this.iterate(v, line)];
    if (items.length !== t.items.length) {
      fail("ValueError", `Cannot unpack: expected ${t.items.length} values, got ${items.length}`, line);
    }
    t.items.forEach((sub, i) => this.assign(sub, items[i]!, line));
  }

  *iterate(v: Value, line: number): Generator<Value> {
    if (v instanceof RangeVal) {
      const { start, stop, step } = v;
      // Every element counts toward the run's limits, whoever consumes it.
      if (step > 0n) {
        for (let i = start; i < stop; i += step) {
          this.tick(line);
          yield Rational.int(i);
        }
      } else {
        for (let i = start; i > stop; i += step) {
          this.tick(line);
          yield Rational.int(i);
        }
      }
      return;
    }
    if (v instanceof Seq) {
      yield* v.items;
      return;
    }
    if (typeof v === "string") {
      for (const ch of v) yield ch;
      return;
    }
    fail("TypeError", `Cannot iterate: ${typeName(v)} is not iterable`, line);
  }

  eval(e: Expr): Value {
    this.tick(e.line);
    switch (e.t) {
      case "num":
      case "const":
        return e.v;
      case "name": {
        const v = this.env.get(e.id);
        if (v !== undefined) return v;
        const b = BUILTINS.get(e.id);
        if (b) return b;
        if (FORBIDDEN.has(e.id)) fail("Unsupported", `Cannot run code: "${e.id}" is not available in the step language`, e.line);
        fail("NameError", `Cannot find "${e.id}": name is not defined`, e.line);
        break;
      }
      case "bin":
        return this.binop(e.op, this.eval(e.l), this.eval(e.r), e.line);
      case "unary": {
        const v = this.eval(e.e);
        const r = toNum(v);
        if (r === undefined) fail("TypeError", `Cannot apply unary ${e.op}: operand is ${typeName(v)}`, e.line);
        return e.op === "-" ? r.neg() : r;
      }
      case "not":
        return !truthy(this.eval(e.e));
      case "bool": {
        const l = this.eval(e.l);
        if (e.op === "and") return truthy(l) ? this.eval(e.r) : l;
        return truthy(l) ? l : this.eval(e.r);
      }
      case "cond":
        return truthy(this.eval(e.c)) ? this.eval(e.a) : this.eval(e.b);
      case "cmp": {
        let l = this.eval(e.items[0]!);
        for (let i = 0; i < e.ops.length; i++) {
          const r = this.eval(e.items[i + 1]!);
          if (!this.compare(e.ops[i]!, l, r, e.line)) return false;
          l = r;
        }
        return true;
      }
      case "call": {
        const f = this.eval(e.f);
        if (!(f instanceof Builtin)) fail("TypeError", `Cannot call a value: ${typeName(f)} is not callable`, e.line);
        const args = e.args.map((a) => this.eval(a));
        return f.fn(args, e.line, this);
      }
      case "index": {
        const s = this.eval(e.e);
        const i = toInt(this.eval(e.i));
        if (i === undefined) fail("TypeError", "Cannot index: index must be an integer", e.line);
        let items: readonly Value[] | undefined;
        if (s instanceof Seq) items = s.items;
        else if (typeof s === "string") items = [...s];
        else if (!(s instanceof RangeVal)) fail("TypeError", `Cannot index: ${typeName(s)} is not subscriptable`, e.line);
        const n = items === undefined ? (s as RangeVal).length() : BigInt(items.length);
        const k = i < 0n ? i + n : i;
        if (k < 0n || k >= n) fail("ValueError", "Cannot index: index out of range", e.line);
        return items === undefined ? Rational.int((s as RangeVal).at(k)) : items[Number(k)]!;
      }
      case "seq":
        return new Seq(e.kind, e.items.map((x) => this.eval(x)));
    }
  }

  compare(op: string, l: Value, r: Value, line: number): boolean {
    if (op === "==") return valuesEqual(l, r);
    if (op === "!=") return !valuesEqual(l, r);
    if (op === "in" || op === "not in") {
      let found: boolean;
      if (r instanceof RangeVal) {
        const x = toInt(l);
        found = x !== undefined && r.has(x);
      } else if (typeof r === "string") {
        if (typeof l !== "string") fail("TypeError", `Cannot test "${op}" a string: ${typeName(l)} is not a string`, line);
        found = r.includes(l);
      } else {
        found = false;
        for (const x of this.iterate(r, line)) {
          this.loopTick(line);
          if ((found = valuesEqual(x, l))) break;
        }
      }
      return op === "in" ? found : !found;
    }
    let c: number;
    const a = toNum(l);
    const b = toNum(r);
    if (a !== undefined && b !== undefined) c = a.compare(b);
    else if (typeof l === "string" && typeof r === "string") c = l < r ? -1 : l > r ? 1 : 0;
    else fail("TypeError", `Cannot compare: "${op}" between ${typeName(l)} and ${typeName(r)}`, line);
    switch (op) {
      case "<": return c < 0;
      case ">": return c > 0;
      case "<=": return c <= 0;
      default: return c >= 0;
    }
  }

  binop(op: string, l: Value, r: Value, line: number): Value {
    const a = toNum(l);
    const b = toNum(r);
    if (a === undefined || b === undefined) return this.nonNumeric(op, l, r, line);
    const max = this.limits.maxIntBits;
    switch (op) {
      case "+":
        return this.checkNum(a.add(b), line);
      case "-":
        return this.checkNum(a.sub(b), line);
      case "*":
        if (!a.isZero() && !b.isZero() && (a.num >= 1n << 53n || a.num <= -(1n << 53n) || b.num >= 1n << 53n || b.num <= -(1n << 53n)) &&
          bitLength(a.num) + bitLength(b.num) > max + 1) {
          fail("LimitExceeded", `Cannot compute: number exceeds ${max} bits`, line);
        }
        return this.checkNum(a.mul(b), line);
      case "/":
        if (b.isZero()) fail("ZeroDivisionError", "Cannot divide: division by zero", line);
        return this.checkNum(a.div(b), line);
      case "//":
        if (b.isZero()) fail("ZeroDivisionError", "Cannot divide: integer division by zero", line);
        return this.checkNum(a.floorDiv(b), line);
      case "%":
        if (b.isZero()) fail("ZeroDivisionError", "Cannot take a remainder: modulo by zero", line);
        return this.checkNum(a.mod(b), line);
      case "**":
        return this.pow(a, b, line);
    }
    fail("Unsupported", `Cannot run code: operator "${op}" is not supported`, line);
  }

  pow(a: Rational, b: Rational, line: number): Rational {
    const max = this.limits.maxIntBits;
    if (b.isInteger()) {
      const e = b.num;
      if (a.isZero() && e < 0n) fail("ZeroDivisionError", "Cannot raise zero to a negative power", line);
      if (a.den === 1n && (a.num === 0n || a.num === 1n)) return e === 0n ? Rational.int(1) : a;
      if (a.den === 1n && a.num === -1n) return e % 2n === 0n ? Rational.int(1) : a;
      const bits = Math.max(bitLength(a.num), bitLength(a.den)) - (a.num === 2n || a.num === -2n || a.den === 2n ? 1 : 0);
      const absE = e < 0n ? -e : e;
      if (absE > BigInt(max) || Math.max(1, bits) * Number(absE) > max + 1) {
        fail("LimitExceeded", `Cannot compute a power: result exceeds ${max} bits`, line);
      }
      return this.checkNum(a.powInt(e), line);
    }
    // Fractional exponent p/q: exact only when the q-th root is rational.
    if (b.den > 64n) fail("ValueError", "Cannot raise to a fractional power: result is not rational", line);
    const q = b.den;
    if (a.sign() < 0) fail("ValueError", "Cannot raise a negative number to a fractional power", line);
    const rn = nthRoot(a.num, q);
    const rd = nthRoot(a.den, q);
    if (rn === undefined || rd === undefined) fail("ValueError", "Cannot raise to a fractional power: result is not rational", line);
    return this.pow(Rational.of(rn, rd), Rational.int(b.num), line);
  }

  nonNumeric(op: string, l: Value, r: Value, line: number): Value {
    if (op === "+" && typeof l === "string" && typeof r === "string") {
      if (l.length + r.length > this.limits.maxStringChars) fail("LimitExceeded", `Cannot build a string longer than ${this.limits.maxStringChars} characters`, line);
      return l + r;
    }
    if (op === "+" && l instanceof Seq && r instanceof Seq && l.kind === r.kind) {
      if (l.items.length + r.items.length > this.limits.maxIterations) fail("LimitExceeded", "Cannot build a sequence that long", line);
      return new Seq(l.kind, [...l.items, ...r.items]);
    }
    if (op === "*") {
      const [s, k] = typeof l === "string" || l instanceof Seq ? [l, toInt(r)] : [r, toInt(l)];
      if ((typeof s === "string" || s instanceof Seq) && k !== undefined) {
        const len = typeof s === "string" ? s.length : s.items.length;
        const n = k < 0n ? 0n : k;
        const cap = typeof s === "string" ? this.limits.maxStringChars : this.limits.maxIterations;
        if (BigInt(len) * n > BigInt(cap)) fail("LimitExceeded", `Cannot repeat a ${typeName(s)}: result longer than ${cap}`, line);
        if (typeof s === "string") return s.repeat(Number(n));
        const items: Value[] = [];
        for (let i = 0n; i < n; i++) items.push(...s.items);
        return new Seq(s.kind, items);
      }
    }
    fail("TypeError", `Cannot apply "${op}": unsupported operand types ${typeName(l)} and ${typeName(r)}`, line);
  }

  write(text: string, line: number): void {
    if (this.out.length + text.length > this.limits.maxOutputChars) {
      fail("LimitExceeded", `Cannot print: output exceeds ${this.limits.maxOutputChars} characters`, line);
    }
    this.out += text;
  }
}

function truthy(v: Value): boolean {
  if (v instanceof Rational) return !v.isZero();
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return v.length > 0;
  if (v === null) return false;
  if (v instanceof Seq) return v.items.length > 0;
  if (v instanceof RangeVal) return v.length() > 0n;
  return true;
}

function toNum(v: Value): Rational | undefined {
  if (v instanceof Rational) return v;
  if (v === true) return Rational.int(1);
  if (v === false) return Rational.int(0);
  return undefined;
}

function toInt(v: Value): bigint | undefined {
  const r = toNum(v);
  return r !== undefined && r.isInteger() ? r.num : undefined;
}

function typeName(v: Value): string {
  if (v instanceof Rational) return v.isInteger() ? "int" : "fraction";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string") return "str";
  if (v === null) return "None";
  if (v instanceof Seq) return v.kind;
  if (v instanceof RangeVal) return "range";
  return "function";
}

function valuesEqual(a: Value, b: Value): boolean {
  const x = toNum(a);
  const y = toNum(b);
  if (x !== undefined && y !== undefined) return x.equals(y);
  if (a instanceof Seq && b instanceof Seq) {
    return a.kind === b.kind && a.items.length === b.items.length && a.items.every((v, i) => valuesEqual(v, b.items[i]!));
  }
  return a === b;
}

/** Canonical printed form of a value (what `print` writes), failing once it passes `max` characters. */
function show(v: Value, max = Number.POSITIVE_INFINITY, line = 0): string {
  const parts: string[] = [];
  let len = 0;
  const emit = (s: string) => {
    len += s.length;
    if (len > max) fail("LimitExceeded", `Cannot convert a value to text: longer than ${max} characters`, line);
    parts.push(s);
  };
  const walk = (x: Value, quote: boolean): void => {
    if (x instanceof Rational) emit(x.toString());
    else if (typeof x === "boolean") emit(x ? "True" : "False");
    else if (typeof x === "string") emit(quote ? `'${x}'` : x);
    else if (x === null) emit("None");
    else if (x instanceof Seq) {
      emit(x.kind === "list" ? "[" : "(");
      x.items.forEach((item, i) => {
        if (i > 0) emit(", ");
        walk(item, true);
      });
      emit(x.kind === "list" ? "]" : x.items.length === 1 ? ",)" : ")");
    } else if (x instanceof RangeVal) {
      emit(x.step === 1n ? `range(${x.start}, ${x.stop})` : `range(${x.start}, ${x.stop}, ${x.step})`);
    } else emit(`<built-in function ${x.name}>`);
  };
  walk(v, false);
  return parts.join("");
}

/** Integer square root (floor) of a non-negative BigInt. */
export function isqrtBig(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  if (n >= 1n << 52n) {
    x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
    for (;;) {
      const y = (x + n / x) >> 1n;
      if (y >= x) break;
      x = y;
    }
  }
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/** Exact q-th root of a non-negative BigInt, or undefined when it is not an integer. */
function nthRoot(n: bigint, q: bigint): bigint | undefined {
  if (q === 1n) return n;
  if (n < 2n) return n;
  if (q === 2n) {
    const r = isqrtBig(n);
    return r * r === n ? r : undefined;
  }
  let x = BigInt(Math.round(Number(n) ** (1 / Number(q))));
  if (!Number.isFinite(Number(n))) {
    // Newton iteration from an upper bound.
    x = 1n << BigInt(Math.ceil(bitLength(n) / Number(q)) + 1);
    for (;;) {
      const y = ((q - 1n) * x + n / x ** (q - 1n)) / q;
      if (y >= x) break;
      x = y;
    }
  }
  for (const c of [x - 1n, x, x + 1n]) if (c >= 0n && c ** q === n) return c;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Built-ins

const FORBIDDEN = new Set([
  "eval", "exec", "compile", "open", "input", "globals", "locals", "vars", "getattr", "setattr",
  "delattr", "hasattr", "dir", "type", "object", "super", "breakpoint", "help", "memoryview",
  "bytearray", "bytes", "classmethod", "staticmethod", "property", "iter", "next", "exit", "quit",
  "Function", "require", "Deno", "process", "globalThis", "import", "math", "os", "sys",
]);

function argN(name: string, args: Value[], lo: number, hi: number, line: number): void {
  if (args.length < lo || args.length > hi) {
    const want = lo === hi ? `${lo}` : `${lo} to ${hi}`;
    fail("TypeError", `Cannot call ${name}(): expected ${want} arguments, got ${args.length}`, line);
  }
}

function numArg(name: string, v: Value, line: number): Rational {
  const r = toNum(v);
  if (r === undefined) fail("TypeError", `Cannot call ${name}(): expected a number, got ${typeName(v)}`, line);
  return r;
}

function intArg(name: string, v: Value, line: number): bigint {
  const r = toNum(v);
  if (r === undefined || !r.isInteger()) fail("TypeError", `Cannot call ${name}(): expected an integer, got ${r ? "a fraction" : typeName(v)}`, line);
  return r.num;
}

/** Elements of one iterable argument, or the arguments themselves (min/max style). */
function spread(name: string, args: Value[], line: number, it: Interp): Value[] {
  if (args.length === 1) {
    const items: Value[] = [];
    for (const v of it.iterate(args[0]!, line)) {
      it.loopTick(line);
      items.push(v);
    }
    return items;
  }
  if (args.length === 0) fail("TypeError", `Cannot call ${name}(): expected at least 1 argument`, line);
  return args;
}

function roundHalfEven(r: Rational): bigint {
  const f = r.floor();
  const diff = r.sub(f);
  const c = diff.compare(Rational.of(1n, 2n));
  if (c < 0) return f.num;
  if (c > 0) return f.num + 1n;
  return f.num % 2n === 0n ? f.num : f.num + 1n;
}

function factorialBig(n: bigint, it: Interp, line: number): bigint {
  // log2(n!) ≈ n log2 n - 1.44 n; refuse before computing anything too large.
  const nf = Number(n);
  // A value too big for a double (Infinity) must be refused too, not slip past as NaN.
  if (!(nf <= 1e9) || (nf > 2 && nf * Math.log2(nf) - 1.45 * nf > it.limits.maxIntBits)) fail("LimitExceeded", `Cannot compute factorial(${n}): result exceeds ${it.limits.maxIntBits} bits`, line);
  let r = 1n;
  for (let i = 2n; i <= n; i++) r *= i;
  return r;
}

function permBig(n: bigint, k: bigint, it: Interp, line: number, call = `perm(${n}, ${k})`): bigint {
  if (k > n) return 0n;
  const bits = Number(k) * Math.log2(Math.max(2, Number(n)));
  if (k > 0n && !(bits <= it.limits.maxIntBits + 64)) {
    fail("LimitExceeded", `Cannot compute ${call}: a product on the way exceeds ${it.limits.maxIntBits} bits`, line);
  }
  let r = 1n;
  for (let i = 0n; i < k; i++) r *= n - i;
  return r;
}

const builtinList: Builtin[] = [
  new Builtin("print", (args, line, it) => {
    it.write(args.map((a) => show(a, it.limits.maxOutputChars, line)).join(" ") + "\n", line);
    return null;
  }),
  new Builtin("abs", (args, line) => {
    argN("abs", args, 1, 1, line);
    return numArg("abs", args[0]!, line).abs();
  }),
  new Builtin("min", (args, line, it) => {
    const xs = spread("min", args, line, it);
    if (xs.length === 0) fail("ValueError", "Cannot call min(): the sequence is empty", line);
    return xs.reduce((m, v) => (it.compare("<", v, m, line) ? v : m));
  }),
  new Builtin("max", (args, line, it) => {
    const xs = spread("max", args, line, it);
    if (xs.length === 0) fail("ValueError", "Cannot call max(): the sequence is empty", line);
    return xs.reduce((m, v) => (it.compare(">", v, m, line) ? v : m));
  }),
  new Builtin("sum", (args, line, it) => {
    argN("sum", args, 1, 2, line);
    let acc: Value = args.length === 2 ? args[1]! : Rational.int(0);
    for (const v of it.iterate(args[0]!, line)) {
      it.loopTick(line);
      acc = it.binop("+", acc, v, line);
    }
    return acc;
  }),
  new Builtin("len", (args, line) => {
    argN("len", args, 1, 1, line);
    const v = args[0]!;
    if (typeof v === "string") return Rational.int(v.length);
    if (v instanceof Seq) return Rational.int(v.items.length);
    if (v instanceof RangeVal) return Rational.int(v.length());
    fail("TypeError", `Cannot call len(): ${typeName(v)} has no length`, line);
  }),
  new Builtin("range", (args, line) => {
    argN("range", args, 1, 3, line);
    const xs = args.map((a) => intArg("range", a, line));
    const [start, stop, step] = xs.length === 1 ? [0n, xs[0]!, 1n] : [xs[0]!, xs[1]!, xs[2] ?? 1n];
    if (step === 0n) fail("ValueError", "Cannot call range(): step must not be zero", line);
    return new RangeVal(start, stop, step);
  }),
  new Builtin("list", (args, line, it) => {
    argN("list", args, 0, 1, line);
    return new Seq("list", args.length === 0 ? [] : spread("list", args, line, it));
  }),
  new Builtin("tuple", (args, line, it) => {
    argN("tuple", args, 0, 1, line);
    return new Seq("tuple", args.length === 0 ? [] : spread("tuple", args, line, it));
  }),
  new Builtin("gcd", (args, line) => {
    let g = 0n;
    for (const a of args) g = bigGcd(g, intArg("gcd", a, line));
    return Rational.int(g);
  }),
  new Builtin("lcm", (args, line, it) => {
    let l = 1n;
    for (const a of args) {
      const x = intArg("lcm", a, line);
      if (x === 0n) return Rational.int(0);
      l = (l / bigGcd(l, x)) * (x < 0n ? -x : x);
      it.checkNum(Rational.int(l), line);
    }
    return Rational.int(l);
  }),
  new Builtin("factorial", (args, line, it) => {
    argN("factorial", args, 1, 1, line);
    const n = intArg("factorial", args[0]!, line);
    if (n < 0n) fail("ValueError", "Cannot call factorial(): argument is negative", line);
    return Rational.int(factorialBig(n, it, line));
  }),
  new Builtin("perm", (args, line, it) => {
    argN("perm", args, 1, 2, line);
    const n = intArg("perm", args[0]!, line);
    const k = args.length === 2 ? intArg("perm", args[1]!, line) : n;
    if (n < 0n || k < 0n) fail("ValueError", "Cannot call perm(): arguments must be non-negative", line);
    return Rational.int(permBig(n, k, it, line));
  }),
  new Builtin("comb", (args, line, it) => {
    argN("comb", args, 2, 2, line);
    const n = intArg("comb", args[0]!, line);
    let k = intArg("comb", args[1]!, line);
    if (n < 0n || k < 0n) fail("ValueError", "Cannot call comb(): arguments must be non-negative", line);
    if (k > n) return Rational.int(0);
    const call = `comb(${n}, ${k})`;
    if (n - k < k) k = n - k;
    const p = permBig(n, k, it, line, call);
    return Rational.int(p / factorialBig(k, it, line));
  }),
  new Builtin("isqrt", (args, line) => {
    argN("isqrt", args, 1, 1, line);
    const n = intArg("isqrt", args[0]!, line);
    if (n < 0n) fail("ValueError", "Cannot call isqrt(): argument is negative", line);
    return Rational.int(isqrtBig(n));
  }),
  new Builtin("sqrt", (args, line) => {
    argN("sqrt", args, 1, 1, line);
    const x = numArg("sqrt", args[0]!, line);
    if (x.sign() < 0) fail("ValueError", "Cannot call sqrt(): argument is negative", line);
    const n = nthRoot(x.num, 2n);
    const d = nthRoot(x.den, 2n);
    if (n === undefined || d === undefined) fail("ValueError", `Cannot call sqrt(): ${x} is not a perfect square`, line);
    return Rational.of(n, d);
  }),
  new Builtin("round", (args, line, it) => {
    argN("round", args, 1, 2, line);
    const x = numArg("round", args[0]!, line);
    if (args.length === 1 || args[1] === null) return Rational.int(roundHalfEven(x));
    const nd = intArg("round", args[1]!, line);
    if (nd > 1000n || nd < -1000n) fail("LimitExceeded", "Cannot call round(): too many digits", line);
    const scale = Rational.int(10n).powInt(nd);
    return it.checkNum(Rational.int(roundHalfEven(x.mul(scale))).div(scale), line);
  }),
  new Builtin("int", (args, line) => {
    argN("int", args, 1, 1, line);
    const v = args[0]!;
    if (typeof v === "string") {
      if (!/^\s*[+-]?\d+\s*$/.test(v) || v.length > 1000) fail("ValueError", `Cannot call int(): invalid literal "${v.slice(0, 40)}"`, line);
      return Rational.int(BigInt(v.trim()));
    }
    const x = numArg("int", v, line);
    return x.sign() < 0 ? x.neg().floor().neg() : x.floor();
  }),
  new Builtin("float", (args, line) => {
    argN("float", args, 1, 1, line);
    const v = args[0]!;
    if (typeof v === "string") {
      const r = Rational.parse(v);
      if (r === undefined) fail("ValueError", `Cannot call float(): invalid literal "${v.slice(0, 40)}"`, line);
      return r;
    }
    return numArg("float", v, line);
  }),
  new Builtin("str", (args, line, it) => {
    argN("str", args, 1, 1, line);
    return show(args[0]!, it.limits.maxStringChars, line);
  }),
  new Builtin("pow", (args, line, it) => {
    argN("pow", args, 2, 3, line);
    if (args.length === 2) return it.binop("**", args[0]!, args[1]!, line);
    const b = intArg("pow", args[0]!, line);
    let e = intArg("pow", args[1]!, line);
    const m = intArg("pow", args[2]!, line);
    if (m === 0n) fail("ValueError", "Cannot call pow(): modulus is zero", line);
    if (e < 0n) fail("ValueError", "Cannot call pow(): negative exponent with a modulus", line);
    let r = 1n;
    let x = ((b % m) + m) % m;
    while (e > 0n) {
      it.tick(line);
      if (e & 1n) r = (r * x) % m;
      x = (x * x) % m;
      e >>= 1n;
    }
    return Rational.int(((r % m) + m) % m);
  }),
  new Builtin("divmod", (args, line, it) => {
    argN("divmod", args, 2, 2, line);
    return new Seq("tuple", [it.binop("//", args[0]!, args[1]!, line), it.binop("%", args[0]!, args[1]!, line)]);
  }),
  new Builtin("digit_sum", (args, line) => {
    argN("digit_sum", args, 1, 1, line);
    const n = intArg("digit_sum", args[0]!, line);
    let s = 0;
    for (const ch of (n < 0n ? -n : n).toString()) s += ch.charCodeAt(0) - 48;
    return Rational.int(s);
  }),
  new Builtin("Fraction", (args, line, it) => {
    argN("Fraction", args, 1, 2, line);
    const a = numArg("Fraction", args[0]!, line);
    if (args.length === 1) return a;
    return it.binop("/", a, args[1]!, line);
  }),
];

const BUILTINS = new Map<string, Builtin>(builtinList.map((b) => [b.name, b]));

/** Names of the built-in functions of the step language. */
export const BUILTIN_NAMES: readonly string[] = builtinList.map((b) => b.name);

/**
 * Python definitions that make the step language's non-standard built-ins available to a real
 * Python interpreter (for an executor that runs steps with `python3`). `/` stays float there.
 */
export const PYTHON_PRELUDE: string = [
  "from math import gcd, lcm, comb, perm, factorial, isqrt",
  "from fractions import Fraction",
  "def sqrt(x):",
  "    r = isqrt(int(x))",
  "    return r if r * r == x else x ** 0.5",
  "def digit_sum(n):",
  "    return sum(int(d) for d in str(abs(int(n))))",
  "",
].join("\n");

// ---------------------------------------------------------------------------------------------
// Entry points

function resolve(limits: Partial<ExecLimits> | undefined): ExecLimits {
  if (limits === undefined) return DEFAULT_LIMITS;
  let same = true;
  for (const k in limits) if ((limits as Record<string, unknown>)[k] !== undefined) same = false;
  return same ? DEFAULT_LIMITS : { ...DEFAULT_LIMITS, ...limits };
}

function runIn(env: Env, code: string, limits: ExecLimits): ExecResult {
  const parsed = parseCached(code, limits);
  if (!parsed.ok) return { ok: false, stdout: "", error: parsed.error };
  const it = new Interp(env, limits);
  try {
    it.run(parsed.prog);
    return { ok: true, stdout: it.out };
  } catch (e) {
    if (e === BREAK || e === CONTINUE) {
      return { ok: false, stdout: it.out, error: { kind: "SyntaxError", message: "Cannot run code: break or continue outside a loop", line: 0 } };
    }
    return { ok: false, stdout: it.out, error: toError(e) };
  }
}

/** Runs a whole program in a fresh environment. Never throws. */
export function runCode(code: string, limits?: Partial<ExecLimits>): ExecResult {
  return runIn(new Map(), code, resolve(limits));
}

interface PrefixState {
  readonly env: ReadonlyMap<string, Value>;
  readonly error?: ExecError;
}

const envCache = new BoundedCache<string, PrefixState>(16384);
const resultCache = new BoundedCache<string, ExecResult>(16384);
const EMPTY_STATE: PrefixState = { env: new Map() };

/** Unambiguous cache key of a list of code strings (each length-prefixed). */
function codesKey(codes: readonly string[], limits: ExecLimits): string {
  let key = limits === DEFAULT_LIMITS ? "" : `${limitsKey(limits)}:${limits.maxOps}:${limits.maxIterations}:${limits.maxOutputChars}:${limits.maxWallMs}|`;
  for (const c of codes) key += `${c.length}:${c}`;
  return key;
}

function prefixState(codes: readonly string[], limits: ExecLimits): PrefixState {
  if (codes.length === 0) return EMPTY_STATE;
  const hit = envCache.get(codesKey(codes, limits));
  if (hit) return hit;
  // Find the longest cached prefix, then run forward from it, caching each level.
  let k = codes.length - 1;
  let state: PrefixState = EMPTY_STATE;
  for (; k > 0; k--) {
    const h = envCache.get(codesKey(codes.slice(0, k), limits));
    if (h) {
      state = h;
      break;
    }
  }
  for (let i = k; i < codes.length; i++) {
    if (!state.error) {
      const env = new Map(state.env);
      const r = runIn(env, codes[i]!, limits);
      state = r.ok ? { env } : {
        env,
        error: { kind: r.error!.kind, message: `Cannot run the path: step ${i + 1} failed: ${r.error!.message}`, line: 0 },
      };
    }
    envCache.set(codesKey(codes.slice(0, i + 1), limits), state);
  }
  return state;
}

/**
 * Runs `step` in the environment that `prefix` builds: the prefix's code runs first (cached by
 * its code), and only the new step's output is reported; error lines refer to the step's own
 * code (line 0 when a prefix step fails). Never throws.
 */
export function runStepSync(prefix: readonly Step[], step: Step, limits?: Partial<ExecLimits>): ExecResult {
  const lim = resolve(limits);
  const codes = prefix.map((s) => s.code);
  const pathKey = codesKey([...codes, step.code], lim);
  // Steps are deterministic, so a repeated (path, step) pair is answered from the cache.
  if (lim === DEFAULT_LIMITS) {
    const hit = resultCache.get(pathKey);
    if (hit) return hit;
  }
  let state: PrefixState;
  try {
    state = prefixState(codes, lim);
  } catch (e) {
    return { ok: false, stdout: "", error: toError(e) };
  }
  let result: ExecResult;
  if (state.error) result = { ok: false, stdout: "", error: state.error };
  else {
    const env = new Map(state.env);
    result = runIn(env, step.code, lim);
    // This step's environment is the prefix state of its children: keep it.
    if (result.ok) envCache.set(pathKey, { env });
  }
  // Wall-time failures depend on the machine's load: never cache them.
  if (lim === DEFAULT_LIMITS && !(result.error && /time limit/.test(result.error.message))) resultCache.set(pathKey, result);
  return result;
}

/** Drops the parse and environment caches (for tests and memory pressure). */
export function clearInterpreterCaches(): void {
  parseCache.clear();
  envCache.clear();
  resultCache.clear();
}

/** The built-in safe interpreter as a `StepExecutor`. */
export class SafeExecutor implements StepExecutor {
  /** Executor name recorded in results. */
  readonly name = "builtin";
  private readonly limits: ExecLimits;
  constructor(limits: Partial<ExecLimits> = {}) {
    this.limits = resolve(limits);
  }
  /** Runs one step after its prefix (see `runStepSync`). */
  runStep(prefix: readonly Step[], step: Step): Promise<ExecResult> {
    return Promise.resolve(runStepSync(prefix, step, this.limits));
  }
  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
