/**
 * Round 1's weak proposer: a grammar-based step enumerator. It reads the quantities in the problem
 * text (integers, decimals, fractions like 3/4, percents) and the variables earlier steps assigned,
 * and samples k distinct one-line steps: assignments `vN = a OP b` (OP in + - * / // % or a call to
 * gcd, lcm, comb, perm; a few unary calls) and final steps `print(x)` / `print(a OP b)`, each with
 * a short comment. Cue words in the problem ("times", "remainder", "choose", …) raise the weight of
 * matching operations; it never sees the answer or a reference solution. Search with verification
 * is what turns this into solutions.
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
  { op: "-", expr: (a, b) => `${a} - ${b}`, text: (a, b) => `subtract ${b} from ${a}`, base: 3, cues: /\b(subtract|minus|less|fewer|difference|decrease[sd]?|left|remain(s|ing)?|younger|spends?|loses?)\b/i },
  { op: "*", expr: (a, b) => `${a} * ${b}`, text: (a, b) => `multiply ${a} by ${b}`, base: 3, cues: /\b(times|multipl\w*|product|twice|triple|each|per|every|rate|speed|hours?)\b|%/i },
  { op: "/", expr: (a, b) => `${a} / ${b}`, text: (a, b) => `divide ${a} by ${b}`, base: 2, cues: /\b(divide[sd]?|split|half|per|ratio|average|share[sd]?|equally|quotient)\b|%/i },
  { op: "//", expr: (a, b) => `${a} // ${b}`, text: (a, b) => `floor-divide ${a} by ${b}`, base: 0.5, cues: /\b(multiples?|divisible|how many (whole|full))\b/i },
  { op: "%", expr: (a, b) => `${a} % ${b}`, text: (a, b) => `take the remainder of ${a} divided by ${b}`, base: 0.5, cues: /\b(remainder|modulo|mod)\b/i },
  { op: "**", expr: (a, b) => `${a} ** ${b}`, text: (a, b) => `raise ${a} to the power ${b}`, base: 0.2, cues: /\b(geometric|power|squared?|cubed?|doubl\w+ every|times the one before)\b/i },
  { op: "gcd", expr: (a, b) => `gcd(${a}, ${b})`, text: (a, b) => `take the greatest common divisor of ${a} and ${b}`, base: 0.3, cues: /\b(greatest common|gcd|largest number that divides)\b/i },
  { op: "lcm", expr: (a, b) => `lcm(${a}, ${b})`, text: (a, b) => `take the least common multiple of ${a} and ${b}`, base: 0.3, cues: /\b(least common|lcm|smallest number that both)\b/i },
  { op: "comb", expr: (a, b) => `comb(${a}, ${b})`, text: (a, b) => `count the ways to choose ${b} of ${a}`, base: 0.2, cues: /\b(choose|committee|combinations?|select|subsets?|teams?)\b/i },
  { op: "perm", expr: (a, b) => `perm(${a}, ${b})`, text: (a, b) => `count the ordered arrangements of ${b} of ${a}`, base: 0.2, cues: /\b(arrange\w*|orders?|permutations?|line up|podium|rank\w*)\b/i },
];

const unaryOps: readonly UnaryOp[] = [
  { op: "factorial", expr: (a) => `factorial(${a})`, text: (a) => `take the factorial of ${a}`, base: 0.1, cues: /\b(arrange all|all of them|factorial|in a row|every order)\b/i },
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
  /** Chance of a print step at depth 0, and its growth per step (defaults 0.25 and 0.15). */
  readonly printBase?: number;
  readonly printGrowth?: number;
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
    this.printBase = options.printBase ?? 0.25;
    this.printGrowth = options.printGrowth ?? 0.15;
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
    const operands = this.operands(req.problem, req.steps);
    const vars = assignedVariables(req.steps);
    const cueWeights = binaryOps.map((o) => (o.cues.test(req.problem) ? o.base + cueBonus : o.base));
    const unaryWeights = unaryOps.map((o) => (o.cues.test(req.problem) ? o.base + cueBonus / 2 : o.base));
    const depth = req.steps.length;
    const pPrint = Math.min(0.85, this.printBase + this.printGrowth * depth);
    const nextVar = freshName(vars);
    const out: ProposedStep[] = [];
    const seen = new Set<string>();
    for (let attempt = 0; out.length < req.k && attempt < req.k * 30; attempt++) {
      const draw = this.drawStep(rng, operands, vars, cueWeights, unaryWeights, pPrint, nextVar, sharpen);
      if (draw === undefined || seen.has(draw.code)) continue;
      seen.add(draw.code);
      out.push({ text: draw.text, code: draw.code, logprob: Math.log(draw.p), tokens: draw.code.split(/\s+/).length });
    }
    return out;
  }

  /** Problem numbers (unused ones weigh more), earlier variables (the latest most), constants. */
  private operands(problem: string, steps: readonly Step[]): Operand[] {
    const used = steps.map((s) => s.code).join("\n");
    const ops: Operand[] = [];
    for (const n of problemNumbers(problem)) {
      const isUsed = new RegExp(`(^|[^\\w.])${escapeRegExp(n.code)}(?![\\w.])`).test(used);
      ops.push({ code: n.code, label: n.label, weight: isUsed ? 1 : 3, kind: "number" });
    }
    const vars = assignedVariables(steps);
    vars.forEach((v, i) => {
      const latest = i === vars.length - 1;
      ops.push({ code: v, label: v, weight: latest ? 3 + 2 * ops.length / 3 : 1, kind: "variable" });
    });
    for (const c of this.constants) ops.push({ code: c, label: c, weight: 0.15, kind: "constant" });
    return ops;
  }

  private drawStep(
    rng: Prng,
    operands: readonly Operand[],
    vars: readonly string[],
    cueWeights: readonly number[],
    unaryWeights: readonly number[],
    pPrint: number,
    nextVar: string,
    sharpen: number,
  ): { text: string; code: string; p: number } | undefined {
    if (operands.length === 0) return undefined;
    let p = 1;
    const isPrint = rng.float() < pPrint;
    p *= isPrint ? pPrint : 1 - pPrint;
    const latest = vars[vars.length - 1];
    if (isPrint && latest !== undefined && rng.float() < 0.5) {
      return { text: `print the answer ${latest}`, code: `print(${latest})`, p: p * 0.5 };
    }
    if (isPrint && latest !== undefined) p *= 0.5;
    const unaryTotal = unaryWeights.reduce((a, b) => a + b, 0);
    const binaryTotal = cueWeights.reduce((a, b) => a + b, 0);
    let expr: string;
    let text: string;
    if (rng.float() < unaryTotal / (unaryTotal + binaryTotal)) {
      const [ui, up] = weighted(rng, unaryWeights, sharpen);
      const [a, ap] = weighted(rng, operands.map((o) => o.weight), sharpen);
      const op = unaryOps[ui]!;
      expr = op.expr(operands[a]!.code);
      text = op.text(operands[a]!.label);
      p *= up * ap * unaryTotal / (unaryTotal + binaryTotal);
    } else {
      const [oi, op_] = weighted(rng, cueWeights, sharpen);
      const [a, ap] = weighted(rng, operands.map((o) => o.weight), sharpen);
      const rest = operands.map((o, i) => (i === a ? 0 : o.weight));
      if (rest.every((w) => w === 0)) return undefined;
      const [b, bp] = weighted(rng, rest, sharpen);
      const op = binaryOps[oi]!;
      expr = op.expr(operands[a]!.code, operands[b]!.code);
      text = op.text(operands[a]!.label, operands[b]!.label);
      p *= op_ * ap * bp * binaryTotal / (unaryTotal + binaryTotal);
    }
    if (isPrint) return { text: `${text} and print the answer`, code: `print(${expr})`, p };
    return { text, code: `${nextVar} = ${expr}`, p };
  }
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
