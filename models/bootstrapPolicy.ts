/**
 * Round 1's weak proposer: a grammar-based step enumerator. It reads the quantities in the problem
 * text (integers, decimals, fractions like 3/4, percents) and the variables earlier steps assigned,
 * and samples up to k distinct one-line steps: assignments `vN = a OP b` (OP in + - * / // % or a
 * call to gcd, lcm, comb, perm; a few unary calls) and final steps `print(x)` / `print(a OP b)`,
 * each with a short comment. It chains: the first operand is usually the latest variable, the second the next
 * number not yet used, in order of appearance (from the end too, for equations to undo). It prints
 * mostly once every number and every intermediate result is used, skips degenerate steps (x*1,
 * x-x, gcd(x, 1), …) and uses exotic operations only where cue words ("remainder", "choose", …)
 * appear; a cue in the number's own clause weighs most. Beside the grammar it knows a small book of
 * formulas a textbook writes in one line, each offered where the words of the problem call for it:
 * a count of choices times the ways so far (`v1 * comb(7, 4)`), a fraction given away
 * (`264 - 264 * (3/4)`), a percent off or added, the term or sum of an arithmetic or geometric
 * sequence, two unknowns from their sum and difference or ratio, an equation undone from its last
 * operation, and a chain's next operation where one operation's cue words alone fit its sentence. A
 * formula drawn again uses up a draw, as a confident sampler's repeats would, so where the book
 * applies the step has fewer rivals in the tree. It never sees the answer or a reference solution.
 * Search with verification is what turns this into solutions: it solves most one- to three-step
 * problems and few long ones (scripts/bench/bootstrapSolveRate.ts).
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
  { op: "+", expr: (a, b) => `${a} + ${b}`, text: (a, b) => `add ${a} and ${b}`, base: 3, cues: /\b(add|plus|more|sum|total|increase[sd]?|altogether|together|combined|gains?|older|another|also)\b/i },
  { op: "-", expr: (a, b) => `${a} - ${b}`, text: (a, b) => `subtract ${b} from ${a}`, base: 3, cues: /\b(subtract|minus|less|fewer|difference|decrease[sd]?|left|remain(s|ing)?|younger|spends?|loses?|change|other|broken|thrown away|back|returns|coupon|discount)\b/i },
  { op: "*", expr: (a, b) => `${a} * ${b}`, text: (a, b) => `multiply ${a} by ${b}`, base: 3, cues: /\b(times|multipl\w*|product|twice|triple|each|per|every|rate|speed|hours?|one of|in all|all this|repeated|in a row|same (trip|order|things|work)|such lines)\b|%/i },
  { op: "/", expr: (a, b) => `${a} / ${b}`, text: (a, b) => `divide ${a} by ${b}`, base: 2, cues: /\b(divide[sd]?|split|half|per|ratio|average|share[sd]?|equal|equally|quotient)\b|%|\d[xy]\b/i },
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
  /** The whole sentence around it (clauses split at commas too). */
  readonly sentence: string;
  /** Where it starts in the problem text. */
  readonly index: number;
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
    // A formula drawn again takes up its draw (as a confident sampler's repeats would), so where
    // the text calls for one the step has fewer rivals; a grammar guess drawn again is redrawn.
    let repeats = 0;
    for (let attempt = 0; out.length + repeats < req.k && attempt < req.k * 30; attempt++) {
      const draw = this.drawStep(rng, ctx, sharpen, stray);
      if (draw === undefined) continue;
      if (seen.has(draw.code)) {
        if (draw.formula) repeats++;
        continue;
      }
      seen.add(draw.code);
      out.push({ text: draw.text, code: draw.code, logprob: Math.log(draw.p), tokens: draw.code.split(/\s+/).length });
    }
    return out;
  }

  /** What a draw needs: the unused numbers in order of appearance, variables, cue weights. */
  private context(problem: string, steps: readonly Step[]): DrawContext {
    // The third listed term of a sequence ("starts 7, 9, 11") only confirms the step: count it read.
    const occurrences = numberOccurrences(problem, steps.map((s) => s.code).join("\n"))
      .map((o, i) => (i === 2 && listedSequence.test(problem) ? { ...o, used: true } : o));
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
      formulas: formulaSteps(problem, occurrences, vars),
      pStray: Math.min(0.1, this.printBase + this.printGrowth * steps.length),
    };
  }

  private drawStep(rng: Prng, ctx: DrawContext, sharpen: number, stray: boolean): Draw | undefined {
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
    const formula = e.formula === true;
    if (rng.float() < pPrint) return { text: `${e.text} and print the answer`, code: `print(${e.expr})`, p: p * pPrint, formula };
    return { text: e.text, code: `${ctx.nextVar} = ${e.expr}`, p: p * (1 - pPrint), formula };
  }

  /**
   * One expression, from the formula book or the grammar. The grammar's: the first operand is the
   * latest variable when there is one (else an unused number, the first or last likeliest); the
   * second is the next unused number in order of appearance (others, older variables and
   * constants less often); the operation follows the cue words of the whole problem and, more
   * strongly, of the second number's clause.
   */
  private drawExpression(rng: Prng, ctx: DrawContext, sharpen: number): Expression | undefined {
    // A formula whose words the problem uses is offered before the grammar's guesses.
    const total = ctx.formulas.reduce((t, f) => t + f.weight, 0);
    const pFormula = total / (total + formulaRivals);
    if (total > 0 && rng.float() < pFormula) {
      const [fi, fp] = weighted(rng, ctx.formulas.map((f) => f.weight), sharpen);
      const f = ctx.formulas[fi]!;
      return { expr: f.expr, text: f.text, p: pFormula * fp, consumed: f.consumed, vars: f.vars, formula: true };
    }
    const e = this.drawGrammar(rng, ctx, sharpen);
    return e === undefined ? undefined : { ...e, p: e.p * (1 - pFormula) };
  }

  /** One expression of the grammar (see drawExpression). */
  private drawGrammar(rng: Prng, ctx: DrawContext, sharpen: number): Expression | undefined {
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

/** One drawn step with its probability; `formula` when it came from the formula book. */
interface Draw {
  readonly text: string;
  readonly code: string;
  readonly p: number;
  readonly formula?: boolean;
}

/** An expression with its probability, the problem numbers it uses up and the variables it reads. */
interface Expression {
  readonly expr: string;
  readonly text: string;
  readonly p: number;
  readonly consumed: number;
  readonly vars: readonly string[];
  /** Drawn from the formula book. */
  readonly formula?: boolean;
}

/** A step of the formula book that fits the current state, with its sampling weight. */
interface FormulaStep extends Omit<Expression, "p" | "formula"> {
  readonly weight: number;
}

/** Weight of the grammar against the formula book's total (a cued formula at 6 is drawn 1 in 2). */
const formulaRivals = 6;

/**
 * A formula of one clause: its cue words, how many of the clause's numbers it reads, and its
 * expression of the running value (the latest variable, or else the number before the clause)
 * and those numbers. `base: "optional"` formulas start a value of their own when there is none yet.
 */
interface ClauseFormula {
  readonly cue: RegExp;
  readonly reads: 1 | 2;
  readonly base: "needed" | "optional";
  /** Which form of a percent the formula reads: the plain number (25) or the fraction (25/100). */
  readonly form?: "plain";
  readonly expr: (base: string | undefined, nums: readonly string[]) => string;
  readonly text: (base: string | undefined, labels: readonly string[]) => string;
}

const times = (base: string | undefined, call: string) => (base === undefined ? call : `${base} * ${call}`);
const timesText = (base: string | undefined, what: string) => (base === undefined ? what : `multiply ${base} by ${what}`);
const desc = (nums: readonly string[]) => [...nums].sort((a, b) => Number(b) - Number(a));

const clauseFormulas: readonly ClauseFormula[] = [
  {
    cue: /\b(choose|pick a group of|select)\b/i,
    reads: 2,
    base: "optional",
    expr: (b, n) => times(b, `comb(${desc(n).join(", ")})`),
    text: (b, l) => timesText(b, `the ways to choose ${desc(l)[1]} of ${desc(l)[0]}`),
  },
  {
    cue: /\bprizes?\b/i,
    reads: 2,
    base: "optional",
    expr: (b, n) => times(b, `perm(${desc(n).join(", ")})`),
    text: (b, l) => timesText(b, `the ordered choices of ${desc(l)[1]} of ${desc(l)[0]}`),
  },
  {
    cue: /\bleader and a helper\b/i,
    reads: 1,
    base: "optional",
    expr: (b, n) => times(b, `perm(${n[0]}, 2)`),
    text: (b, l) => timesText(b, `the ordered choices of 2 of ${l[0]}`),
  },
  {
    cue: /\bone of \d+\b/i,
    reads: 1,
    base: "needed",
    expr: (b, n) => `${b} * ${n[0]}`,
    text: (b, l) => `multiply ${b} by the ${l[0]} choices`,
  },
  {
    cue: /\b(in a row|on a shelf)\b/i,
    reads: 1,
    base: "optional",
    expr: (b, n) => times(b, `factorial(${n[0]})`),
    text: (b, l) => timesText(b, `the ways to arrange ${l[0]}`),
  },
  {
    cue: /\b(gives? away|spends?|eats?|loses?)\b[^%]*\/\s*\d/i,
    reads: 1,
    base: "needed",
    expr: (b, n) => `${b} - ${b} * ${n[0]}`,
    text: (b, l) => `subtract ${l[0]} of ${b} from ${b}`,
  },
  {
    cue: /% off|\b(drops?|falls?|decreases?) by \d+%|\bgives? away \d+%/i,
    reads: 1,
    base: "needed",
    form: "plain",
    expr: (b, n) => `${b} * (100 - ${n[0]}) / 100`,
    text: (b, l) => `take ${l[0]}% off ${b}`,
  },
  {
    cue: /\b(goes up|rises?|increases?) by \d+%|\btax of\b|\d+% (more|is added)/i,
    reads: 1,
    base: "needed",
    form: "plain",
    expr: (b, n) => `${b} * (100 + ${n[0]}) / 100`,
    text: (b, l) => `add ${l[0]}% to ${b}`,
  },
];

/** Weight of a formula cued by the next unused number's clause, and by a later one's. */
const nextClauseWeight = 6;
const laterClauseWeight = 1;

/**
 * The formula book's steps for this state: each clause formula on the unused numbers of a clause
 * that cues it, and the sequence formulas where the problem is about a sequence.
 */
function formulaSteps(problem: string, occ: readonly Occurrence[], vars: readonly string[]): FormulaStep[] {
  const latest = vars[vars.length - 1];
  const out: FormulaStep[] = [];
  const unused = occ.filter((o) => !o.used);
  unused.forEach((o, i) => {
    const weight = i === 0 ? nextClauseWeight : laterClauseWeight;
    for (const f of clauseFormulas) {
      if (!f.cue.test(o.sentence)) continue;
      const group = f.reads === 1 ? [o] : unused.slice(i, i + 2);
      if (group.length < f.reads || group.some((g) => g.sentence !== o.sentence)) continue;
      const forms = group.map((g) => (f.form === "plain" ? g.forms[g.forms.length - 1]! : g.forms[0]!));
      // The running value: the latest result, else the number just before the clause.
      const before = occ.indexOf(o) - 1;
      const prior = before >= 0 && !occ[before]!.used ? occ[before]! : undefined;
      const base = latest ?? (prior === undefined ? undefined : prior.forms[prior.forms.length - 1]!.code);
      if (f.base === "needed" && base === undefined) continue;
      const b = latest !== undefined || f.base === "needed" ? base : undefined;
      // A formula that starts from the first unused number reads the next clause too.
      const startsHere = latest === undefined && b !== undefined && prior === unused[0];
      out.push({
        expr: f.expr(b, forms.map((x) => x.code)),
        text: f.text(b, forms.map((x) => x.label)),
        weight: startsHere ? nextClauseWeight : weight,
        consumed: group.length + (latest === undefined && b !== undefined ? 1 : 0),
        vars: latest !== undefined && b === latest ? [latest] : [],
      });
    }
  });
  return [
    ...out,
    ...(out.length === 0 ? forwardSteps(problem, unused, latest) : []),
    ...sequenceSteps(problem, occ, latest),
    ...systemSteps(problem, occ, vars),
    ...undoSteps(problem, occ, latest),
  ];
}

/** A sequence given by its first terms ("starts 7, 9, 11"), whose third term is only a check. */
const listedSequence = /\bstarts\s+-?\d+,\s*-?\d+,\s*-?\d+/i;

/**
 * The sequence formulas: the common difference or ratio of listed terms, and term n or the sum of
 * n terms of an arithmetic or geometric sequence from its start, step and n.
 */
function sequenceSteps(problem: string, occ: readonly Occurrence[], latest: string | undefined): FormulaStep[] {
  if (!/\bsequence\b/i.test(problem) || occ.length < 2) return [];
  const geo = /\b(geometric|times the one before)\b/i.test(problem);
  const listed = listedSequence.test(problem);
  const a = occ[0]!.forms[0]!.code;
  if (listed && latest === undefined) {
    const t1 = occ[1]!.forms[0]!.code;
    return [geo ? cued(`${t1} // ${a}`, `the ratio is ${t1} over ${a}`, 2) : cued(`${t1} - ${a}`, `the difference is ${t1} minus ${a}`, 2)];
  }
  const nOcc = occ.find((o) => !o.used && /\b(term number|first \d+ terms?)\b/i.test(o.clause));
  if (nOcc === undefined) return [];
  const n = nOcc.forms[0]!.code;
  const d = listed ? latest : occ[1]!.used ? undefined : occ[1]!.forms[0]!.code;
  if (d === undefined) return [];
  const sum = /\bsum of the first\b/i.test(nOcc.clause);
  const expr = geo
    ? (sum ? `${a} * (${d} ** ${n} - 1) // (${d} - 1)` : `${a} * ${d} ** (${n} - 1)`)
    : (sum ? `${n} * (2 * ${a} + (${n} - 1) * ${d}) // 2` : `${a} + (${n} - 1) * ${d}`);
  const what = `${sum ? `the sum of the first ${n} terms` : `term ${n}`} of the ${geo ? "geometric" : "arithmetic"} sequence`;
  const consumed = occ.filter((o) => !o.used && (o === nOcc || o === occ[0] || (!listed && o === occ[1]))).length;
  return [cued(expr, what, consumed, listed ? [d] : [])];
}

/** Words of an equation to solve for an unknown, which is worked backwards (`undoSteps`). */
const equationWords = /\b(think of a number|solve for x|find x|value of x)\b/i;

const arithmeticOps = binaryOps.filter((o) => ["+", "-", "*", "/"].includes(o.op));

/**
 * Reading a chain forwards: where the next number's sentence cues exactly one of + − × ÷ (by the
 * grammar's own cue words), that operation on the latest result and the number.
 */
function forwardSteps(problem: string, unused: readonly Occurrence[], latest: string | undefined): FormulaStep[] {
  const next = unused[0];
  if (latest === undefined || next === undefined || equationWords.test(problem)) return [];
  const ops = arithmeticOps.filter((o) => o.cues.test(next.sentence));
  if (ops.length !== 1) return [];
  const f = next.forms[0]!;
  return [cued(ops[0]!.expr(latest, f.code), ops[0]!.text(latest, f.label), 1, [latest])];
}

/** A formula step at the formula book's full weight. */
function cued(expr: string, text: string, consumed: number, vars: readonly string[] = []): FormulaStep {
  return { expr, text, weight: nextClauseWeight, consumed, vars };
}

/**
 * Two unknowns from two facts: a sum and a difference (the larger is half their sum), a sum and a
 * ratio (the smaller is one part of k + 1), or two equations with the same y (subtracting them
 * leaves x). Each offers its first unknown, then the other from it.
 */
function systemSteps(problem: string, occ: readonly Occurrence[], vars: readonly string[]): FormulaStep[] {
  const num = (i: number) => (occ[i] === undefined ? undefined : occ[i]!.forms[0]!.code);
  const fresh = (...is: number[]) => is.filter((i) => occ[i] !== undefined && !occ[i]!.used).length;
  const latest = vars[vars.length - 1];
  if (/\bx \+ y = \d+ and x - y = \d+|\bsum of two numbers is \d+ and their difference is \d+/i.test(problem)) {
    const [S, D] = [num(0)!, num(1)!];
    if (vars.length === 0) {
      return [
        cued(`(${S} + ${D}) // 2`, `the larger is half of ${S} plus ${D}`, 2),
        cued(`(${S} - ${D}) // 2`, `the smaller is half of ${S} minus ${D}`, 2),
      ];
    }
    if (vars.length === 1) return [cued(`${S} - ${latest}`, `the other is ${S} minus ${latest}`, 0, [latest!])];
    return [cued(`${vars[vars.length - 2]} * ${latest}`, "multiply the two numbers", 0, vars.slice(-2))];
  }
  if (/\bx \+ y = \d+ and x = \d+y\b|\bhas \d+ \w+ and \w+ in all\. There are \d+ times as many\b/i.test(problem)) {
    const [S, k] = [num(0)!, num(1)!];
    if (vars.length === 0) return [cued(`${S} // (${k} + 1)`, `one part of ${S} split into ${k} + 1 parts`, 2)];
    return [cued(`${k} * ${latest}`, `${k} parts`, 0, [latest!])];
  }
  const two = /(\d+)x \+ y = (\d+) and (\d*)x \+ y = (\d+)|(\d+) \w+ and 1 of the \w+ cost (\d+) dollars\. (\d+) \w+ and 1 of the \w+ cost (\d+) dollars/i.exec(problem);
  if (two !== null) {
    const g = two.slice(1).filter((x) => x !== undefined);
    const [a, c1, b, c2] = [g[0]!, g[1]!, g[2] === "" ? "1" : g[2]!, g[3]!];
    if (vars.length === 0) return [cued(`(${c1} - ${c2}) // (${a} - ${b})`, "subtract the equations and solve for x", fresh(0, 1, 2, 3))];
    return [cued(`${c1} - ${a} * ${latest}`, "solve the first equation for y", 0, [latest!])];
  }
  return [];
}

/** The operation a number of an equation applies to x, read from the words or symbols around it. */
function appliedOp(problem: string, o: Occurrence): "+" | "-" | "*" | "/" | undefined {
  if (/\badd\b/i.test(o.clause)) return "+";
  if (/\b(subtract|take away)\b/i.test(o.clause)) return "-";
  if (/\bmultiply\b/i.test(o.clause)) return "*";
  if (/\bdivide\b/i.test(o.clause)) return "/";
  const before = problem.slice(0, o.index).trimEnd().slice(-1);
  const after = problem.slice(o.index).replace(/^-?\d+/, "").charAt(0);
  if (after === "x" || after === "(") return "*";
  return before === "+" || before === "-" || before === "/" ? before : undefined;
}

const undo: Readonly<Record<string, (b: string, k: string) => string>> = {
  "+": (b, k) => `${b} - ${k}`,
  "-": (b, k) => `${b} + ${k}`,
  "*": (b, k) => `${b} // ${k}`,
  "/": (b, k) => `${b} * ${k}`,
};

/**
 * Working an equation backwards: the last operation not yet undone, inverted, applied to the
 * latest result (at first, to the number the operations end at: "… and I get 208", "… = 56").
 */
function undoSteps(problem: string, occ: readonly Occurrence[], latest: string | undefined): FormulaStep[] {
  if (!equationWords.test(problem)) return [];
  const result = occ.find((o) => /(\bget|=)\s*$/.test(problem.slice(0, o.index)));
  if (result === undefined) return [];
  const todo = occ.filter((o) => o !== result && !o.used && appliedOp(problem, o) !== undefined);
  const last = todo[todo.length - 1];
  if (last === undefined) return [];
  const base = latest ?? (result.used ? undefined : result.forms[0]!.code);
  if (base === undefined) return [];
  const op = appliedOp(problem, last)!;
  const k = last.forms[0]!.code;
  return [cued(undo[op]!(base, k), `undo ${op} ${k}`, latest === undefined ? 2 : 1, latest === undefined ? [] : [latest])];
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
  /** The formula book's steps that fit here, with weights. */
  readonly formulas: readonly FormulaStep[];
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
  const out: Omit<Occurrence, "used">[] = [];
  const re = /(-?\d+(?:,\d{3})*(?:\.\d+)?)\s*(\/\s*(\d+)|%|\s*percent\b)?/g;
  for (const m of problem.matchAll(re)) {
    const num = m[1]!.replace(/,/g, "");
    const plain = num.startsWith("-") ? `(${num})` : num;
    const forms = m[3] !== undefined
      ? [{ code: `(${num}/${m[3]})`, label: `${num}/${m[3]}` }]
      : m[2] !== undefined
      ? [{ code: `(${num}/100)`, label: `${num}%` }, { code: plain, label: num }]
      : [{ code: plain, label: num }];
    // The text around the number up to the nearest delimiters on either side.
    const around = (before: readonly string[], after: readonly string[]) => {
      const from = Math.max(...before.map((c) => problem.lastIndexOf(c, m.index! - 1))) + 1;
      const tos = after.map((c) => problem.indexOf(c, m.index! + m[0].length)).filter((i) => i >= 0);
      return problem.slice(from, tos.length > 0 ? Math.min(...tos) : problem.length);
    };
    out.push({ forms, index: m.index!, clause: around([".", ","], [".", ",", "?"]), sentence: around([". ", "?"], [". ", "?"]) });
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
    return { ...o, used: left > 0 };
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
