/**
 * Answer extraction and grading, as the MATH and GSM8K graders do it.
 *
 * `extractAnswer` finds the final answer in model text; `answersEqual` decides equivalence:
 * exact rationals, decimals within relative tolerance 1e-4, percentages (`75%` = `0.75` = `75`),
 * LaTeX fractions and mixed numbers, thousands separators, units/currency/degrees ignored,
 * `x = 5` = `5`, tuples in order, sets in any order, intervals, multiple-choice letters, number
 * words up to twenty, radicals and π compared numerically, and algebraic expressions in a few
 * variables compared at fixed points (`2x+3` = `3+2x`).
 *
 * Radicals and π go through a small real-valued evaluator of our own rather than mathjs:
 * mathjs adds about one second to the start of every process that imports the grader (measured
 * under Deno), and the few forms MATH answers use (`\sqrt`, `\frac`, `\pi`, `^`, implicit
 * products) take about a hundred lines to evaluate.
 */
import { Rational } from "./rational.ts";

// ---------------------------------------------------------------------------------------------
// Extraction

/** Content of the last `\boxed{...}` (or `\fbox{...}`), braces balanced; undefined if none. */
export function lastBoxed(text: string): string | undefined {
  const re = /\\(?:boxed|fbox)\s*\{/g;
  let found: string | undefined;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === "{") depth++;
      else if (text[i] === "}") depth--;
    }
    if (depth === 0) found = text.slice(start, i - 1);
  }
  if (found === undefined) {
    // "\boxed 5" without braces.
    const bare = /\\boxed\s+([^\s$]+)/g;
    let b: RegExpExecArray | null;
    while ((b = bare.exec(text)) !== null) found = b[1];
  }
  return found;
}

const NUMBER_RE = /-?\d[\d,]*(?:\.\d+)?(?:\s*\/\s*\d+)?|-?\.\d+/g;

/**
 * Extracts the final answer from model text: the last `\boxed{..}` (nested braces), else the
 * text after the last "the answer is", else GSM8K's `#### x`, else the last number.
 */
export function extractAnswer(text: string): string | undefined {
  const boxed = lastBoxed(text);
  if (boxed !== undefined) return boxed.trim();
  const ans = [...text.matchAll(/(?:the )?(?:final )?answer(?: is|:)\s*:?\s*/gi)];
  if (ans.length > 0) {
    const last = ans[ans.length - 1]!;
    let rest = text.slice(last.index! + last[0].length).split("\n")[0]!.trim();
    // Stop at a sentence end (a period followed by a space or the end), keeping decimals.
    const end = /\.(?=\s|$)/.exec(rest);
    if (end) rest = rest.slice(0, end.index);
    rest = rest.replace(/^\$+|\$+$/g, "").trim();
    if (rest.length > 0) return rest;
  }
  const hashes = /####\s*(.+)/.exec(text);
  if (hashes) return hashes[1]!.trim();
  const nums = text.match(NUMBER_RE);
  if (nums && nums.length > 0) return nums[nums.length - 1]!.replace(/\s+/g, "");
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Normalisation

/** Replaces `\cmd{x}` by `x` for text-like commands, innermost first. */
function unwrap(s: string, cmds: string): string {
  const re = new RegExp(`\\\\(?:${cmds})\\s*\\{([^{}]*)\\}`, "g");
  let prev;
  do {
    prev = s;
    s = s.replace(re, "$1");
  } while (s !== prev);
  return s;
}

const UNIT_WORDS =
  "dollars?|cents?|units?|degrees?|cm|mm|km|m|meters?|metres?|inch(?:es)?|feet|foot|ft|miles?|hours?|hrs?|minutes?|mins?|seconds?|secs?|days?|weeks?|years?|months?|kg|g|grams?|pounds?|lbs?|liters?|litres?|ml|l|people|persons?|students?|apples?|books?|pens?|ways|sq|square|cubic|mph|km/h|per|each|points?|times|items?|pieces?|marbles?|cards?|toys?|cups?|eggs?|boxes|bags?|pages?";

/** Light textual normalisation shared by every comparison (MATH's strip_string, extended). */
function strip(raw: string): string {
  let s = raw.trim();
  s = s.replace(/^\$+|\$+$/g, "").trim();
  s = s.replace(/\\(?:left|right|big|Big|bigg|Bigg)\b\s*/g, "");
  s = s.replace(/\\[!,;: ]|\\quad|\\qquad|~/g, " ");
  s = s.replace(/\\[dt]frac/g, "\\frac");
  s = unwrap(s, "text|textbf|textrm|mathrm|mathbf|mbox|operatorname");
  s = s.replace(/\^\s*\{?\\circ\}?|°|\\degree/g, "");
  s = s.replace(/\\\$|\$|€|£/g, "");
  s = s.replace(/\\%/g, "%");
  s = s.replace(/\\le\b|\\leq\b/g, "<=").replace(/\\ge\b|\\geq\b/g, ">=");
  s = s.replace(/\\infty/g, "inf");
  s = s.replace(/\\cdot|\\times/g, "*");
  s = s.replace(/\s+/g, " ").trim();
  s = s.replace(/[.。]+$/, "").trim();
  s = s.replace(/^[a-zA-Z]\s*\\in\s*/, "");
  s = s.replace(/\s*(?:percent|per cent)$/i, "%");
  // "x = 2, y = 3" (or "x = 2 and y = 3"): the tuple of right-hand sides.
  const defs = s.split(/\s*(?:,|\band\b)\s*/);
  if (defs.length >= 2 && defs.every((d) => /^[a-zA-Z]\w*\s*=\s*[^=]+$/.test(d))) {
    s = `(${defs.map((d) => d.replace(/^[a-zA-Z]\w*\s*=\s*/, "")).join(", ")})`;
  }
  // "x = 5", "y=(1,2)": keep the right-hand side of a single-name definition.
  const def = /^[a-zA-Z]\w*\s*=\s*(.+)$/.exec(s);
  if (def && !def[1]!.includes("=")) s = def[1]!.trim();
  return stripUnits(s);
}

const UNIT_TOKEN = new RegExp(`^(?:${UNIT_WORDS})(?:\\^\\{?\\d\\}?|\\d)?$`, "i");
const GLUED_UNIT = new RegExp(`(\\d)(?:${UNIT_WORDS})(?:\\^\\{?\\d\\}?|\\d)?$`, "i");

/** Drops trailing unit words after a number ("5 cm", "12 sq ft", "3 ways", "5cm"); linear time. */
function stripUnits(s: string): string {
  let rest = s;
  for (let guard = 0; guard < 8; guard++) {
    const cut = rest.lastIndexOf(" ");
    if (cut < 0) break;
    const tail = rest.slice(cut + 1);
    const head = rest.slice(0, cut).trimEnd();
    if (!UNIT_TOKEN.test(tail) || !/[\d%}]$/.test(head) && !UNIT_TOKEN.test(head.slice(head.lastIndexOf(" ") + 1))) break;
    rest = head;
  }
  if (rest.length <= 40) rest = rest.replace(GLUED_UNIT, "$1");
  // Only keep the stripped form when a number is left.
  return /[\d}%]$/.test(rest) ? rest : s;
}

interface Num {
  readonly value: Rational;
  /** Written with a percent sign. */
  readonly percent: boolean;
  /** Written as a decimal or in scientific notation (graded with a tolerance). */
  readonly inexact: boolean;
}

const NUMBER_WORDS = [
  "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
  "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
];

/** Parses one plain number in any of the usual written forms; undefined otherwise. */
function parseNumber(raw: string): Num | undefined {
  let s = raw.trim();
  const word = NUMBER_WORDS.indexOf(s.toLowerCase());
  if (word >= 0) return { value: Rational.int(word), percent: false, inexact: false };
  let percent = false;
  if (s.endsWith("%")) {
    percent = true;
    s = s.slice(0, -1).trim();
  }
  if (/^\\?%/.test(s)) return undefined;
  let sign = 1n;
  if (s.startsWith("-") || s.startsWith("−")) {
    sign = -1n;
    s = s.slice(1).trim();
  } else if (s.startsWith("+")) s = s.slice(1).trim();
  // Thousands separators: 1,234,567 or 1 234 567 (groups of three).
  if (/^\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s) || /^\d{1,3}(?:\\? \d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/[,\s\\]/g, "");
  const neg = (r: Rational) => (sign < 0n ? r.neg() : r);
  // \frac{a}{b}, \frac ab, \frac12.
  let m = /^\\frac\s*(?:\{\s*(-?\d+)\s*\}|(\d))\s*(?:\{\s*(-?\d+)\s*\}|(\d))$/.exec(s);
  if (m) {
    const a = BigInt(m[1] ?? m[2]!);
    const b = BigInt(m[3] ?? m[4]!);
    if (b === 0n) return undefined;
    return { value: neg(Rational.of(a, b)), percent, inexact: false };
  }
  // Mixed numbers: 2 1/2, 2\frac{1}{2}, 2\frac12.
  m = /^(\d+)(?:\s+(\d+)\s*\/\s*(\d+)|\s*\\frac\s*(?:\{(\d+)\}|(\d))\s*(?:\{(\d+)\}|(\d)))$/.exec(s);
  if (m) {
    const whole = BigInt(m[1]!);
    const a = BigInt(m[2] ?? m[4] ?? m[5]!);
    const b = BigInt(m[3] ?? m[6] ?? m[7]!);
    if (b === 0n || a >= b) return undefined;
    return { value: neg(Rational.int(whole).add(Rational.of(a, b))), percent, inexact: false };
  }
  // a/b with optional signs and spaces.
  m = /^(-?\d+)\s*\/\s*(-?\d+)$/.exec(s);
  if (m) {
    const b = BigInt(m[2]!);
    if (b === 0n) return undefined;
    return { value: neg(Rational.of(BigInt(m[1]!), b)), percent, inexact: false };
  }
  // Integers, decimals, scientific notation (also "5." and ".5").
  if (/^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(s)) {
    const r = Rational.parse(s.endsWith(".") ? s.slice(0, -1) : s);
    if (r === undefined) return undefined;
    return { value: neg(r), percent, inexact: /[.eE]/.test(s) };
  }
  return undefined;
}

function numbersEqual(a: Num, b: Num): boolean {
  const as = [a.value];
  const bs = [b.value];
  // 75% = 0.75 = 75: a percent side may be read as a fraction or as its bare number.
  if (a.percent) as.push(a.value.div(Rational.int(100)));
  if (b.percent) bs.push(b.value.div(Rational.int(100)));
  for (const x of as) {
    for (const y of bs) {
      if (x.equals(y)) return true;
      if (a.inexact || b.inexact) {
        const xn = x.toNumber();
        const yn = y.toNumber();
        if (Math.abs(xn - yn) <= 1e-4 * Math.max(Math.abs(xn), Math.abs(yn))) return true;
      }
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// A small real-valued evaluator for radicals, π and powers.

const FUNCTIONS = new Set(["sqrt", "frac", "pi", "sin", "cos", "tan", "ln", "log", "exp", "cdot", "times"]);

/** Single-letter variables of an algebraic answer (letters outside known function names). */
export function variablesOf(text: string): string[] {
  const words = text.replace(/\\[a-zA-Z]+/g, (w) => (FUNCTIONS.has(w.slice(1)) ? " " : w)).match(/[a-z]+/g) ?? [];
  const vars = new Set<string>();
  for (const w of words) if (!FUNCTIONS.has(w)) for (const ch of w) vars.add(ch);
  return [...vars].sort();
}

/**
 * Numeric value of a LaTeX-ish expression (sqrt, frac, pi, ^, implicit products, a few functions),
 * with single-letter variables taken from `vars`; undefined if it is not such an expression.
 */
export function evalReal(text: string, vars: Readonly<Record<string, number>> = {}): number | undefined {
  if (text.length > 200) return undefined;
  let s = text;
  s = s.replace(/\\sqrt\s*\[\s*([^\]]+)\s*\]\s*/g, "@root($1)").replace(/\\sqrt\s*(\d)/g, "\\sqrt{$1}");
  s = s.replace(/\\frac\s*(\d)\s*(\d)/g, "{$1}/{$2}").replace(/\\frac/g, "\\frac");
  s = s.replace(/\\pi\b|π/g, "(pi)").replace(/\\sqrt/g, "sqrt").replace(/\\frac/g, "frac");
  s = s.replace(/\\/g, "");
  const toks = s.match(/\d+\.?\d*|\.\d+|[a-z]+|@root|[-+*/^(){}\[\],]|\S/g) ?? [];
  let pos = 0;
  const peek = () => toks[pos];
  const bad = (): never => {
    throw new SyntaxError("bad expression");
  };
  const expr = (): number => {
    let v = term();
    while (peek() === "+" || peek() === "-") v = toks[pos++] === "+" ? v + term() : v - term();
    return v;
  };
  const term = (): number => {
    let v = unary();
    for (;;) {
      const t = peek();
      if (t === "*" || t === "/") {
        pos++;
        v = t === "*" ? v * unary() : v / unary();
      } else if (t !== undefined && (t === "(" || t === "{" || /^[\d.a-z@]/.test(t))) v = v * power();
      else return v;
    }
  };
  const unary = (): number => {
    if (peek() === "-") {
      pos++;
      return -unary();
    }
    if (peek() === "+") {
      pos++;
      return unary();
    }
    return power();
  };
  const power = (): number => {
    const b = atom();
    if (peek() === "^") {
      pos++;
      return b ** unary();
    }
    return b;
  };
  const group = (): number => {
    const open = toks[pos++];
    const close = open === "(" ? ")" : open === "{" ? "}" : bad();
    const v = expr();
    if (toks[pos++] !== close) bad();
    return v;
  };
  const atom = (): number => {
    const t = peek();
    if (t === undefined) return bad();
    if (t === "(" || t === "{") return group();
    pos++;
    if (/^[\d.]/.test(t)) return Number(t);
    if (t === "pi") return Math.PI;
    if (t === "sin" || t === "cos" || t === "tan" || t === "ln" || t === "log" || t === "exp") {
      const x = peek() === "(" || peek() === "{" ? group() : power();
      return t === "ln" || t === "log" ? Math.log(x) : Math[t](x);
    }
    if (/^[a-z]{1,3}$/.test(t) && [...t].every((ch) => ch in vars)) return [...t].reduce((acc, ch) => acc * vars[ch]!, 1);
    if (t === "e") return Math.E;
    if (t === "sqrt") return Math.sqrt(peek() === "(" || peek() === "{" ? group() : atom());
    if (t === "frac") return group() / group();
    if (t === "@root") {
      const n = group();
      return Math.pow(group(), 1 / n);
    }
    return bad();
  };
  try {
    const v = expr();
    if (pos !== toks.length || !Number.isFinite(v)) return undefined;
    return v;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Structured answers

type Parsed =
  | { t: "num"; n: Num }
  | { t: "seq"; open: string; close: string; items: string[] }
  | { t: "choice"; letter: string }
  | { t: "text"; s: string };

/** Splits on top-level commas. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if ("([{".includes(ch)) depth++;
    if (")]}".includes(ch)) depth--;
    if (ch === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

function parseAnswer(raw: string): Parsed {
  const s = strip(raw);
  const n = parseNumber(s);
  if (n) return { t: "num", n };
  const choice = /^\(?([A-E])\)?$/.exec(s) ?? /^(?:option|choice)\s*\(?([A-E])\)?$/i.exec(s);
  if (choice) return { t: "choice", letter: choice[1]! };
  const set = /^\\\{(.*)\\\}$/.exec(s) ?? /^\{(.*)\}$/.exec(s);
  if (set && set[1]!.includes(",")) return { t: "seq", open: "{", close: "}", items: splitTop(set[1]!) };
  const seq = /^([([])(.*)([)\]])$/.exec(s);
  if (seq && splitTop(seq[2]!).length >= 2) return { t: "seq", open: seq[1]!, close: seq[3]!, items: splitTop(seq[2]!) };
  const anded = s.split(/\s+and\s+|\s*,\s*and\s+/);
  if (anded.length >= 2 && anded.every((x) => parseNumber(x) !== undefined)) return { t: "seq", open: "", close: "", items: anded };
  if (/,/.test(s) && splitTop(s).length >= 2 && !/^\d{1,3}(,\d{3})+$/.test(s)) {
    return { t: "seq", open: "", close: "", items: splitTop(s) };
  }
  return { t: "text", s };
}

function scalarEqual(a: string, b: string): boolean {
  const pa = parseAnswer(a);
  const pb = parseAnswer(b);
  if (pa.t === "num" && pb.t === "num") return numbersEqual(pa.n, pb.n);
  if (pa.t === "choice" && pb.t === "choice") return pa.letter === pb.letter;
  if (pa.t === "seq" || pb.t === "seq") return pa.t === "seq" && pb.t === "seq" && seqEqual(pa, pb);
  const ta = pa.t === "num" ? pa.n.value.toString() : pa.t === "choice" ? pa.letter : pa.s;
  const tb = pb.t === "num" ? pb.n.value.toString() : pb.t === "choice" ? pb.letter : pb.s;
  const ka = textKey(ta);
  const kb = textKey(tb);
  if (ka === kb) return true;
  const va = evalReal(ta);
  const vb = evalReal(tb);
  if (va === undefined || vb === undefined) return algebraicEqual(ta, tb);
  // A written decimal is an approximation: grade it with the decimal tolerance.
  const tol = /\d\.\d/.test(a + b) ? 1e-4 : 1e-9;
  return Math.abs(va - vb) <= tol * Math.max(1, Math.abs(va), Math.abs(vb));
}

/** Expressions in the same few variables that agree at several points (e.g. `2x+3` and `3+2x`). */
function algebraicEqual(a: string, b: string): boolean {
  if (!/[\d+\-*/^]/.test(a) || !/[\d+\-*/^]/.test(b)) return false;
  const va = variablesOf(a);
  const vb = variablesOf(b);
  if (va.length === 0 || va.length > 3 || va.join() !== vb.join()) return false;
  const points = [[0.37, 1.53, -2.11], [1.91, -0.62, 2.74], [-1.29, 2.36, 0.83]];
  return points.every((pt) => {
    const env: Record<string, number> = {};
    va.forEach((v, i) => (env[v] = pt[i]!));
    const x = evalReal(a, env);
    const y = evalReal(b, env);
    return x !== undefined && y !== undefined && Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
  });
}

/** Text form for comparing symbolic answers: \frac{a}{b} as a/b, no spaces, braces or case. */
function textKey(t: string): string {
  let s = t;
  let prev;
  do {
    prev = s;
    s = s.replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)");
  } while (s !== prev);
  s = s.replace(/\(([a-zA-Z0-9.]+)\)/g, "$1");
  return s.replace(/[\s{}]/g, "").toLowerCase();
}

function seqEqual(a: Parsed & { t: "seq" }, b: Parsed & { t: "seq" }): boolean {
  if (a.items.length !== b.items.length) return false;
  const unordered = a.open === "{" || b.open === "{" || (a.open === "" && b.open === "");
  if (!unordered) {
    // Tuples and intervals: brackets must agree when both sides give them.
    if (a.open !== "" && b.open !== "" && (a.open !== b.open || a.close !== b.close)) return false;
    return a.items.every((x, i) => scalarEqual(x, b.items[i]!));
  }
  const used = new Array<boolean>(b.items.length).fill(false);
  return a.items.every((x) => {
    const j = b.items.findIndex((y, k) => !used[k] && scalarEqual(x, y));
    if (j < 0) return false;
    used[j] = true;
    return true;
  });
}

/** True when a predicted answer is equivalent to the gold answer. Never throws. */
export function answersEqual(pred: string, gold: string): boolean {
  try {
    // Identical texts are equal at any length; longer ones are not parsed.
    if (pred.trim() === gold.trim()) return pred.trim().length > 0;
    if (pred.length > 2000 || gold.length > 2000) return false;
    const p = extractIfNeeded(pred);
    const g = extractIfNeeded(gold);
    if (p === undefined || g === undefined) return false;
    return scalarEqual(p, g);
  } catch {
    return false;
  }
}

/** A bare answer passes through; text with a `\boxed{}` or `####` gives its extracted answer. */
function extractIfNeeded(s: string): string | undefined {
  if (/\\boxed|\\fbox|####|answer is/i.test(s)) return extractAnswer(s);
  return s;
}

/** The canonical printed form of an answer: `3/4`, `-5`, `12`, `(2, 3)`, `{1, 2}`, `B`, or stripped text. */
export function canonicalAnswer(s: string): string {
  if (s.length > 2000) return s.trim();
  const p = parseAnswer(s);
  switch (p.t) {
    case "num":
      return p.n.value.toString();
    case "choice":
      return p.letter;
    case "seq": {
      const items = p.items.map((x) => canonicalAnswer(x));
      if (p.open === "{" || p.open === "") {
        const sorted = items.slice().sort((x, y) => {
          const a = Rational.parse(x);
          const b = Rational.parse(y);
          return a && b ? a.compare(b) : x < y ? -1 : x > y ? 1 : 0;
        });
        return p.open === "{" ? `{${sorted.join(", ")}}` : sorted.join(", ");
      }
      return `${p.open}${items.join(", ")}${p.close}`;
    }
    case "text":
      return p.s;
  }
}
