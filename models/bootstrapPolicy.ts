/**
 * Round 1's weak proposer: a grammar-based step enumerator. It reads the quantities in the problem
 * text (integers, decimals, fractions like 3/4, percents) and the variables earlier steps assigned,
 * and samples k distinct one-line steps: assignments `vN = a OP b` (OP in + - * / // % or a call to
 * gcd, lcm, comb, perm; a few unary calls) and final steps `print(x)` / `print(a OP b)`, each with
 * a short comment. It chains: the first operand is usually the latest variable, the second the next
 * number not yet used, in order of appearance (from the end too, for equations to undo). It prints
 * mostly once every number and every intermediate result is used, skips degenerate steps (x*1,
 * x-x, gcd(x, 1), …) and uses exotic operations only where cue words ("remainder", "choose", …)
 * appear; a cue in the number's own clause weighs most. It never sees the answer or a reference
 * solution. Search with verification is what turns this into solutions: it solves most one- and
 * two-step problems and few long ones (scripts/bench/bootstrapSolveRate.ts).
 */
import type { ProposedStep, ProposeRequest, Step, StepProposer } from "../math/contracts.ts";
import { hashString, Prng } from "../math/prng.ts";

/** An operand: code to splice into an expression, plus how it reads in a comment. */
interface Operand {
  readonly code: string;
  readonly label: string;
  /** Sampling weight before the recency and novelty biases. */
  readonly weight: number;
  readonly kind: "number" | "variable" | "constant";
}

interface BinaryOp {
  readonly op: string;
  /** Renders the expression. */
  readonly expr: (a: string, b: string) => string;
  /** Renders the comment. */
  readonly text: (a: string, b: string) => string;
  readonly base: number;
  /** Cue words in the problem that make this operation likelier. */
  readonly cues: RegExp;
}

interface UnaryOp {
  readonly op: string;
  readonly expr: (a: string) => string;
  readonly text: (a: string) => string;
  readonly base: number;
  readonly cues: RegExp;
}

const binaryOps: readonly BinaryOp[] = [
  { op: "+", expr: (a, b) => `${a} + ${b}`, text: (a, b) => `add ${a} and ${b}`, base: 3, cues: /\b(add|plus|more|sum|total|increase[sd]?|altogether|together|combined|gains?|older)\b/i },
  { op: "-", expr: (a, b) => `${a} - ${b}`, text: (a, b) => `subtract ${b} from ${a}`, base: 3, cues: /\b(subtract|minus|less|fewer|difference|decrease[sd]?|left|remain(s|ing)?|younger|spends?|loses?|change|other)\b/i },
  { op: "*", expr: (a, b) => `${a} * ${b}`, text: (a, b) => `multiply ${a} by ${b}`, base: 3, cues: /\b(times|multipl\w*|product|twice|triple|each|per|every|rate|speed|hours?|one of|in all|all this)\b|%/i },
  { op: "/", expr: (a, b) => `${a} / ${b}`, text: (a, b) => `divide ${a} by ${b}`, base: 2, cues: /\b(divide[sd]?|split|half|per|ratio|average|share[sd]?|equally|quotient)\b|%|\d[xy]\b/i },
  { op: "//", expr: (a, b) => `${a} // ${b}`, text: (a, b) => `floor-divide ${a} by ${b}`, base: 0.5, cues: /\b(multiples?|divisible|how many (whole|full))\b/i },
  { op: "%", expr: (a, b) => `${a} % ${b}`, text: (a, b) => `take the remainder of ${a} divided by ${b}`, base: 0.5, cues: /\b(remainder|modulo|mod)\b/i },
  { op: "**", expr: (a, b) => `${a} ** ${b}`, text: (a, b) => `raise ${a} to the power ${b}`, base: 0.2, cues: /\b(geometric|power|squared?|cubed?|doubl\w+ every|times the one before)\b/i },
  { op: "gcd", expr: (a, b) => `gcd(${a}, ${b})`, text: (a, b) => `take the greatest common divisor of ${a} and ${b}`, base: 0.3, cues: /\b(greatest common|gcd|largest number that divides)\b/i },
  { op: "lcm", expr: (a, b) => `lcm(${a}, ${b})`, text: (a, b) => `take the least common multiple of ${a} and ${b}`, base: 0.3, cues: /\b(least common|lcm|smallest number that both)\b/i },
  { op: "comb", expr: (a, b) => `comb(${a}, ${b})`, text: (a, b) => `count the ways to choose ${b} of ${a}`, base: 0.2, cues: /\b(choose|committee|combinations?|select|subsets?|teams?|group)\b/i },
  { op: "perm", expr: (a, b) => `perm(${a}, ${b})`, text: (a, b) => `count the ordered arrangements of ${b} of ${a}`, base: 0.2, cues: /\b(arrange\w*|orders?|permutations?|line up|podium|rank\w*|prizes?|leader)\b/i },
];

const unaryOps: readonly UnaryOp[] = [
  { op: "factorial", expr: (a) => `factorial(${a})`, text: (a) => `take the factorial of ${a}`, base: 0.1, cues: /\b(arrange all|all of them|factorial|in a row|every order|on a shelf)\b/i },
  { op: "digit_sum", expr: (a) => `digit_sum(${a})`, text: (a) => `add up the digits of ${a}`, base: 0.05, cues: /\bdigits?\b/i },
];

/** Weight added to an operation whose cue words appear in the problem. */
const cueBonus = 4;

/** Quantities mentioned in a problem, as code literals: integers, decimals, fractions, percents. */
export function problemNumbers(problem: string): { code: string; label: string }[] {
  const out: { code: string; label: string }[] = [];
  const seen = new Set<string>();
  const push = (code: string, label: string) => {
    if (seen.has(code)) return;
    seen.add(code);
    out.push({ code, label });
  };
  const re = /(-?\d+(?:,\d{3})*(?:\.\d+)?)\s*(\/\s*(\d+)|%|\s*percent\b)?/g;
  for (const m of problem.matchAll(re)) {
    const num = m[1]!.replace(/,/g, "");
    if (m[3] !== undefined) {
      push(`(${num}/${m[3]})`, `${num}/${m[3]}`);
    } else if (m[2] !== undefined) {
      push(`(${num}/100)`, `${num}%`);
      push(num, num);
    } else {
      push(num, num);
    }
  }
  return out;
}

/** Names assigned by earlier steps (`name = ...` lines), oldest first, each once. */
export function assignedVariables(steps: readonly Step[]): string[] {
  const out: string[] = [];
  for (const s of steps) {
    for (const line of s.code.split("\n")) {
      const m = /^\s*([A-Za-z_]\w*)\s*=(?!=)/.exec(line);
      if (m === null) continue;
      const i = out.indexOf(m[1]!);
      if (i >= 0) out.splice(i, 1);
      out.push(m[1]!);
    }
  }
  return out;
}

/** Options of the bootstrap policy. */
export interface BootstrapOptions {
  /** Small constants offered as operands (default 1, 2, 100). */
  readonly constants?: readonly string[];
  /**
   * Chance of a print step while problem numbers are still unused, at depth 0 and its growth per
   * step (defaults 0.005 and 0.01). A step that uses the last unused numbers, or a step after all
   * of them are used, prints far more often.
   */
  readonly printBase?: number;
  readonly printGrowth?: number;
}

/** Operations used only when their cue words appear in the problem. */
const exotic = new Set(["//", "%", "**", "gcd", "lcm", "comb", "perm", "factorial", "digit_sum"]);
/** Weight added to an operation whose cue words appear in the clause of the number it consumes. */
const localCueBonus = 6;
/** Chance that a step using the last unused numbers is written as the final print. */
const pPrintFinishing = 0.55;
/** Once every number is used: chance of printing the latest variable as it is. */
const pPrintLatest = 0.6;
/** Once every number is used: chance that a further expression is printed rather than assigned. */
const pPrintAfterAll = 0.7;
/** In a request allowed a stray print: chance of one per draw. */
const pStrayDraw = 0.3;

/** A quantity as it occurs in the problem (each occurrence once), with the clause around it. */
interface Occurrence {
  readonly forms: readonly { code: string; label: string }[];
  readonly clause: string;
  readonly used: boolean;
}

/** Round 1's grammar-based proposer (name and version "bootstrap"). */
export class BootstrapPolicy implements StepProposer {
  readonly name = "bootstrap";
  readonly version = "bootstrap";
  private readonly constants: readonly string[];
  private readonly printBase: number;
  private readonly printGrowth: number;

  constructor(options: BootstrapOptions = {}) {
    this.constants = options.constants ?? ["1", "2", "100"];
    this.printBase = options.printBase ?? 0.005;
    this.printGrowth = options.printGrowth ?? 0.01;
  }

  /** k distinct executable-looking steps per request, sampled with the request's seed. */
  propose(requests: readonly ProposeRequest[]): Promise<ProposedStep[][]> {
    return Promise.resolve(requests.map((r) => this.proposeOne(r)));
  }

  private proposeOne(req: ProposeRequest): ProposedStep[] {
    // Temperature 0 is greedy: the same steps for the same input, whatever the seed.
    const seed = req.temperature === 0
      ? hashString(`${req.problem}\u0000${req.steps.map((s) => s.code).join("\n")}`)[0]
      : req.seed;
    const rng = Prng.fromSeed(seed);
    const sharpen = req.temperature === 0 ? 8 : 1 / Math.max(req.temperature, 0.05);
    const ctx = this.context(req.problem, req.steps);
    // A print before every number is used is a stray guess: allowed in few requests, not in each draw.
    const stray = rng.float() < ctx.pStray;
    const out: ProposedStep[] = [];
    const seen = new Set<string>();
    for (let attempt = 0; out.length < req.k && attempt < req.k * 30; attempt++) {
      const draw = this.drawStep(rng, ctx, sharpen, stray);
      if (draw === undefined || seen.has(draw.code)) continue;
      seen.add(draw.code);
      out.push({ text: draw.text, code: draw.code, logprob: Math.log(draw.p), tokens: draw.code.split(/\s+/).length });
    }
    return out;
  }

  /** What a draw needs: the unused numbers in order of appearance, variables, cue weights. */
  private context(problem: string, steps: readonly Step[]): DrawContext {
    const occurrences = numberOccurrences(problem, steps.map((s) => s.code).join("\n"));
    const vars = assignedVariables(steps);
    const twoCue = /\b(twice|half|double[sd]?|two|difference|leader and a helper)\b|x - y/i.test(problem);
    const oneCue = /\b(sequence|term number)\b/i.test(problem);
    const constants: Operand[] = this.constants.map((c) => ({
      code: c,
      label: c,
      weight: (c === "2" && twoCue) || (c === "1" && oneCue) ? 1 : 0.15,
      kind: "constant",
    }));
    return {
      occurrences,
      unused: occurrences.filter((o) => !o.used),
      vars,
      dangling: danglingVariables(steps, vars),
      constants,
      binaryWeights: binaryOps.map((o) => (o.cues.test(problem) ? o.base + cueBonus : exotic.has(o.op) ? 0 : o.base)),
      unaryWeights: unaryOps.map((o) => (o.cues.test(problem) ? o.base + cueBonus / 2 : 0)),
      depth: steps.length,
      backwards: /\b(think of a number|solve for|find x|value of x)\b|=/i.test(problem),
      nextVar: freshName(vars),
      pStray: Math.min(0.1, this.printBase + this.printGrowth * steps.length),
    };
  }

  private drawStep(rng: Prng, ctx: DrawContext, sharpen: number, stray: boolean): { text: string; code: string; p: number } | undefined {
    const latest = ctx.vars[ctx.vars.length - 1];
    // Every number used and every result but the latest one read again: the answer is at hand.
    const allUsed = ctx.unused.length === 0 && ctx.dangling.length <= 1;
    let p = 1;
    if (allUsed && latest !== undefined) {
      if (rng.float() < pPrintLatest) return { text: `print the answer ${latest}`, code: `print(${latest})`, p: pPrintLatest };
      p *= 1 - pPrintLatest;
    } else if (stray && latest !== undefined && rng.float() < pStrayDraw) {
      return { text: `print the answer ${latest}`, code: `print(${latest})`, p: ctx.pStray * pStrayDraw };
    } else if (stray && latest !== undefined) {
      p *= 1 - pStrayDraw;
    }
    const e = this.drawExpression(rng, ctx, sharpen);
    if (e === undefined) return undefined;
    p *= e.p;
    // Printing is for a step that finishes the problem's numbers and the results so far; elsewhere
    // it is a stray guess.
    const finishing = !allUsed && e.consumed >= ctx.unused.length && ctx.dangling.every((v) => e.vars.includes(v));
    const pPrint = allUsed ? pPrintAfterAll : finishing ? pPrintFinishing : stray ? pStrayDraw : 0;
    if (rng.float() < pPrint) return { text: `${e.text} and print the answer`, code: `print(${e.expr})`, p: p * pPrint };
    return { text: e.text, code: `${ctx.nextVar} = ${e.expr}`, p: p * (1 - pPrint) };
  }

  /**
   * One expression: the first operand is the latest variable when there is one (else an unused
   * number, the first or last likeliest); the second is the next unused number in order of
   * appearance (others, older variables and constants less often); the operation follows the cue
   * words of the whole problem and, more strongly, of the second number's clause.
   */
  private drawExpression(
    rng: Prng,
    ctx: DrawContext,
    sharpen: number,
  ): { expr: string; text: string; p: number; consumed: number; vars: string[] } | undefined {
    const latest = ctx.vars[ctx.vars.length - 1];
    const unused = ctx.unused;
    // First operand.
    const firsts: { op: Operand; occ?: Occurrence }[] = [];
    if (latest !== undefined) firsts.push({ op: { code: latest, label: latest, weight: 8, kind: "variable" } });
    unused.forEach((o, i) => {
      const last = i === unused.length - 1;
      // A clause that cues a call ("choose 2 of 6", "arrange 4 books") starts a result of its own.
      const startsNew = i === 0 && callCue.test(o.clause);
      const w = latest !== undefined
        ? (startsNew ? 4 : i === 0 || (last && ctx.backwards) ? 1 : 0.3)
        : i === 0
        ? (ctx.backwards ? 2.5 : 4)
        : last
        ? (ctx.backwards ? 4 : 2.5)
        : 1;
      const f = pickForm(rng, o);
      firsts.push({ op: { code: f.code, label: f.label, weight: w, kind: "number" }, occ: o });
    });
    ctx.vars.slice(0, -1).forEach((v) => firsts.push({ op: { code: v, label: v, weight: 0.3, kind: "variable" } }));
    if (firsts.length === 0) return undefined;
    const [ai, ap] = weighted(rng, firsts.map((f) => f.op.weight), sharpen);
    const a = firsts[ai]!;
    let p = ap;

    const localWeights = (clause: string | undefined, ws: readonly number[], ops: readonly { op: string; cues: RegExp }[]) => {
      if (clause === undefined) return ws;
      const cued = new Set(ops.filter((o) => o.cues.test(clause)).map((o) => o.op));
      // An equation is undone backwards: "multiply by 8 … I get 400" reads as a division too.
      if (ctx.backwards) for (const o of [...cued]) if (inverse[o] !== undefined) cued.add(inverse[o]!);
      return ws.map((w, i) => (cued.has(ops[i]!.op) ? w + localCueBonus : w));
    };

    // A unary call on the first operand, only where the problem cues one.
    const unaryTotal = ctx.unaryWeights.reduce((s, w) => s + w, 0);
    const binaryTotal = ctx.binaryWeights.reduce((s, w) => s + w, 0);
    const pUnary = unaryTotal / (unaryTotal + binaryTotal);
    if (unaryTotal > 0 && rng.float() < pUnary) {
      const [ui, up] = weighted(rng, localWeights(a.occ?.clause, ctx.unaryWeights, unaryOps), sharpen);
      const op = unaryOps[ui]!;
      if (op.op === "factorial" && !/^\d+$/.test(a.op.code) && a.op.kind !== "variable") return undefined;
      const vars = a.op.kind === "variable" ? [a.op.code] : [];
      return { expr: op.expr(a.op.code), text: op.text(a.op.label), p: p * up * pUnary, consumed: a.occ ? 1 : 0, vars };
    }
    p *= 1 - pUnary;

    // Second operand: unused numbers after the first (in order), then the rest.
    const seconds: { op: Operand; occ?: Occurrence }[] = [];
    const aIndex = a.occ === undefined ? -1 : unused.indexOf(a.occ);
    let nextSeen = false;
    unused.forEach((o, i) => {
      if (o === a.occ) return;
      let w = 1;
      if (!nextSeen && i > aIndex) {
        w = 6;
        nextSeen = true;
      } else if (aIndex >= 0 && i === aIndex - 1) w = 4;
      else if (aIndex >= 0 && i === 0) w = 3;
      // Working backwards from the end of the text is the other natural order.
      if (aIndex < 0 && i === unused.length - 1 && i > 0) w = ctx.backwards ? 6 : 2;
      const f = pickForm(rng, o);
      seconds.push({ op: { code: f.code, label: f.label, weight: w, kind: "number" }, occ: o });
    });
    for (const v of ctx.vars) {
      if (v === a.op.code) continue;
      // A result no step has read yet is waiting to be combined.
      const w = v === latest ? 2 : ctx.dangling.includes(v) ? (unused.length === 0 ? 8 : 1.5) : 0.3;
      seconds.push({ op: { code: v, label: v, weight: w, kind: "variable" } });
    }
    for (const c of ctx.constants) seconds.push({ op: c });
    // A number already used is a poor operand, but not impossible (a value may be needed twice).
    for (const o of ctx.occurrences) {
      if (!o.used) continue;
      const f = o.forms[0]!;
      if (!seconds.some((s) => s.op.code === f.code)) seconds.push({ op: { code: f.code, label: f.label, weight: 0.05, kind: "number" } });
    }
    const [bi, bp] = weighted(rng, seconds.map((s) => s.op.weight), sharpen);
    const b = seconds[bi]!;
    p *= bp;
    const clause = b.occ?.clause ?? a.occ?.clause;
    const [oi, opp] = weighted(rng, localWeights(clause, ctx.binaryWeights, binaryOps), sharpen);
    const op = binaryOps[oi]!;
    p *= opp;
    let [x, y] = [a.op, b.op];
    // Choosing and arranging read "r of n": the larger number comes first.
    if ((op.op === "comb" || op.op === "perm") && Number(x.code) < Number(y.code)) [x, y] = [y, x];
    // A variable subtracted from a number reads "20 - cost" when the clause says so.
    if (op.op === "-" && x.kind === "variable" && y.kind === "number" && clause !== undefined && /\bwith a\b|\bbill\b/i.test(clause)) [x, y] = [y, x];
    // Commutative operations have one spelling: a variable first, numbers in order of appearance.
    if (commutative.has(op.op)) {
      if (y.kind === "variable" && x.kind !== "variable") [x, y] = [y, x];
      else if (x.kind === "number" && y.kind === "number" && positionOf(ctx, x) > positionOf(ctx, y)) [x, y] = [y, x];
    }
    if (degenerate(op.op, x.code, y.code)) return undefined;
    // Whole numbers that would go negative or split unevenly are rarely meant.
    if (awkward(op.op, x.code, y.code) && rng.float() < 0.8) return undefined;
    return {
      expr: op.expr(x.code, y.code),
      text: op.text(x.label, y.label),
      p,
      consumed: (a.occ ? 1 : 0) + (b.occ ? 1 : 0),
      vars: [x, y].filter((o) => o.kind === "variable").map((o) => o.code),
    };
  }
}

interface DrawContext {
  readonly occurrences: readonly Occurrence[];
  readonly unused: readonly Occurrence[];
  readonly vars: readonly string[];
  /** Variables no later step reads (the latest one included). */
  readonly dangling: readonly string[];
  readonly constants: readonly Operand[];
  readonly binaryWeights: readonly number[];
  readonly unaryWeights: readonly number[];
  readonly depth: number;
  /** An equation to undo: its numbers are read from the end too, and cues also suggest the inverse. */
  readonly backwards: boolean;
  readonly nextVar: string;
  /** Chance of a print while numbers are still unused. */
  readonly pStray: number;
}

/** Cue words of the calls (comb, perm, gcd, lcm, factorial, digit_sum). */
const callCue = new RegExp(
  [...binaryOps, ...unaryOps].filter((o) => /^[a-z]/.test(o.op)).map((o) => o.cues.source).join("|"),
  "i",
);

const inverse: Readonly<Record<string, string>> = { "+": "-", "-": "+", "*": "/", "/": "*" };

const commutative = new Set(["+", "*", "gcd", "lcm"]);

/** Index of a number operand's first occurrence in the problem (variables and constants: -1). */
function positionOf(ctx: DrawContext, o: Operand): number {
  return ctx.occurrences.findIndex((occ) => occ.forms.some((f) => f.code === o.code));
}

/** Two whole-number literals whose difference is negative or whose quotient is not whole. */
function awkward(op: string, a: string, b: string): boolean {
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  const x = Number(a);
  const y = Number(b);
  if (op === "-") return x < y;
  if (op === "/" || op === "//") return y === 0 || x % y !== 0;
  if (op === "%") return x < y;
  return false;
}

/** Assigned variables that no later step reads, oldest first. */
function danglingVariables(steps: readonly Step[], vars: readonly string[]): string[] {
  return vars.filter((v) => {
    const re = new RegExp(`(^|[^\\w.])${v}(?![\\w.])`);
    let last = -1;
    steps.forEach((s, i) => {
      if (new RegExp(`^\\s*${v}\\s*=(?!=)`, "m").test(s.code)) last = i;
    });
    return !steps.slice(last + 1).some((s) => re.test(s.code));
  });
}

/** A percent reads as a fraction or a plain number; other quantities have one form. */
function pickForm(rng: Prng, o: Occurrence): { code: string; label: string } {
  return o.forms.length === 1 ? o.forms[0]! : o.forms[rng.int(o.forms.length)]!;
}

/** Steps that leave a value unchanged or trivial: x/1, x*1, x-x, x//x, gcd(x, 1), x**0, … */
function degenerate(op: string, a: string, b: string): boolean {
  const same = a === b;
  const one = b === "1" || b === "(1)";
  const zero = b === "0" || a === "0";
  switch (op) {
    case "+":
      return zero;
    case "-":
      return same || zero;
    case "*":
      return one || a === "1" || zero;
    case "/":
    case "//":
      return one || same || b === "0";
    case "%":
      return one || same || b === "0";
    case "**":
      return one || zero || a === "1";
    case "gcd":
    case "lcm":
      return one || a === "1" || same;
    case "comb":
    case "perm":
      return zero || same && op === "comb";
    default:
      return false;
  }
}

/**
 * Each quantity occurrence in the problem, in order, with its clause (the text between the
 * surrounding sentence or comma breaks) and whether earlier steps' code already used it: a value
 * written n times in the steps uses its first n occurrences.
 */
function numberOccurrences(problem: string, used: string): Occurrence[] {
  const out: { forms: { code: string; label: string }[]; clause: string }[] = [];
  const re = /(-?\d+(?:,\d{3})*(?:\.\d+)?)\s*(\/\s*(\d+)|%|\s*percent\b)?/g;
  for (const m of problem.matchAll(re)) {
    const num = m[1]!.replace(/,/g, "");
    const plain = num.startsWith("-") ? `(${num})` : num;
    const forms = m[3] !== undefined
      ? [{ code: `(${num}/${m[3]})`, label: `${num}/${m[3]}` }]
      : m[2] !== undefined
      ? [{ code: `(${num}/100)`, label: `${num}%` }, { code: plain, label: num }]
      : [{ code: plain, label: num }];
    const start = Math.max(problem.lastIndexOf(".", m.index! - 1), problem.lastIndexOf(",", m.index! - 1)) + 1;
    const ends = [".", ",", "?"].map((c) => problem.indexOf(c, m.index! + m[0].length)).filter((i) => i >= 0);
    const end = ends.length > 0 ? Math.min(...ends) : problem.length;
    out.push({ forms, clause: problem.slice(start, end) });
  }
  const uses = new Map<string, number>();
  const countUses = (code: string) => {
    const bare = code.replace(/^\((-\d.*)\)$/, "$1");
    const re = new RegExp(`(^|[^\\w.])${escapeRegExp(bare)}(?![\\w.])`, "g");
    return [...used.matchAll(re)].length;
  };
  return out.map((o) => {
    const key = o.forms[o.forms.length - 1]!.code;
    if (!uses.has(key)) uses.set(key, o.forms.reduce((s, f) => s + countUses(f.code), 0));
    const left = uses.get(key)!;
    if (left > 0) uses.set(key, left - 1);
    return { forms: o.forms, clause: o.clause, used: left > 0 };
  });
}

/** The first `vN` name not yet assigned. */
function freshName(vars: readonly string[]): string {
  for (let i = 1;; i++) if (!vars.includes(`v${i}`)) return `v${i}`;
}

/** Index drawn in proportion to `weights ** sharpen`, with its probability. */
function weighted(rng: Prng, weights: readonly number[], sharpen: number): [number, number] {
  const ws = weights.map((w) => (w > 0 ? w ** sharpen : 0));
  const total = ws.reduce((a, b) => a + b, 0);
  let r = rng.float() * total;
  for (let i = 0; i < ws.length; i++) {
    r -= ws[i]!;
    if (r < 0) return [i, ws[i]! / total];
  }
  const last = ws.findLastIndex((w) => w > 0);
  return [last, ws[last]! / total];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
