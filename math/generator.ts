/**
 * The embedded data set: seven families of compositional math word problems.
 *
 * A level-L problem chains exactly L clauses, and each clause maps to one solution step (a
 * one-line comment plus one line of code performing one operation). The same clause phrasings
 * occur at every level, so what a model learns on short problems carries over to long ones.
 * The last step computes and prints the answer. Problems are deterministic by seed, and the
 * train and test splits are a partition by a hash of the problem text, so they never share one.
 */
import type { Problem, Step } from "./contracts.ts";
import { hashString, Prng } from "./prng.ts";
import { Rational } from "./rational.ts";

/** Names of the problem families. */
export const FAMILIES: readonly string[] = [
  "arithmetic",
  "linear",
  "system",
  "fraction",
  "number_theory",
  "counting",
  "sequence",
];

/** Every variable name a reference solution assigns (a small, meaningful set). */
export const VARIABLE_NAMES: readonly string[] = [
  "total", "left", "share", "cost", "change", "good", "per_box", "distance", "part", "future",
  "ann", "ben", "carla", "dan", "eva", "finn", "gina", "hugo", "iris", "jack",
  "x", "y", "value", "diff", "coef", "ax", "parts", "twice", "product", "price", "result", "ways", "r", "d",
];

/** Lowest and highest difficulty level. */
export const MIN_LEVEL = 1;
/** Highest difficulty level. */
export const MAX_LEVEL = 5;

/** Options of `generateProblems`. */
export interface GenerateOptions {
  readonly count: number;
  readonly seed: number;
  /** One of FAMILIES; all families (drawn at random) when absent. */
  readonly family?: string;
  /** 1–5; drawn uniformly when absent. */
  readonly level?: number;
  /** Default "train". */
  readonly split?: "train" | "test";
}

/** A generated problem before it gets an id. */
interface Draft {
  readonly text: string;
  readonly steps: Step[];
  readonly answer: Rational | string;
}

/** One solution operation: its comment, the variable it sets, the expression and its value. */
interface Op {
  readonly text: string;
  readonly name: string;
  readonly expr: string;
  readonly value: Rational;
}

const R = (n: number | bigint) => Rational.int(n);
const frac = (a: number, b: number) => Rational.of(BigInt(a), BigInt(b));

/** Turns operations into steps: all but the last assign; the last prints its expression. */
function finish(clauses: string[], question: string, ops: Op[]): Draft {
  const steps: Step[] = ops.map((op, i) =>
    i === ops.length - 1 ? { text: op.text, code: `print(${op.expr})` } : { text: op.text, code: `${op.name} = ${op.expr}` }
  );
  return { text: [...clauses, question].join(" "), steps, answer: ops[ops.length - 1]!.value };
}

function divisorsIn(v: Rational, lo: number, hi: number): number[] {
  if (!v.isInteger() || v.isZero()) return [];
  const out: number[] = [];
  for (let k = lo; k <= hi; k++) if (v.num % BigInt(k) === 0n) out.push(k);
  return out;
}

const PEOPLE: readonly [string, "she" | "he"][] = [
  ["Ann", "she"], ["Ben", "he"], ["Carla", "she"], ["Dan", "he"], ["Eva", "she"], ["Finn", "he"],
  ["Gina", "she"], ["Hugo", "he"], ["Iris", "she"], ["Jack", "he"],
];
const OBJECTS = ["pens", "books", "apples", "marbles", "stickers", "cards", "stamps", "shells"];

function fill(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// ---------------------------------------------------------------------------------------------
// Shared running-quantity chain: add, subtract, multiply, divide clauses on one quantity.

type OpKind = "add" | "sub" | "mul" | "div";

interface ChainDomain {
  readonly phrases: Readonly<Record<OpKind, readonly string[]>>;
  readonly names: Readonly<Record<OpKind, string>>;
  readonly comments: Readonly<Record<OpKind, string>>;
  /** Largest multiplier and divisor. */
  readonly maxFactor: number;
}

/** Appends one random chain operation on `cur` (a variable name or a literal expression). */
function chainOp(rng: Prng, d: ChainDomain, cur: { ref: string; value: Rational }, vars: Record<string, string | number>): { clause: string; op: Op } {
  const v = cur.value;
  const kinds: OpKind[] = ["add", "sub", "mul", "div"];
  for (;;) {
    const kind = rng.pick(kinds);
    let k: number;
    let value: Rational;
    let expr: string;
    if (kind === "add") {
      k = rng.range(2, 40);
      value = v.add(R(k));
      expr = `${cur.ref} + ${k}`;
    } else if (kind === "sub") {
      const hi = Math.min(40, Math.floor(v.toNumber()) - 1);
      if (hi < 1) continue;
      k = rng.range(1, hi);
      value = v.sub(R(k));
      expr = `${cur.ref} - ${k}`;
    } else if (kind === "mul") {
      if (v.toNumber() * 2 > 50_000) continue;
      k = rng.range(2, d.maxFactor);
      value = v.mul(R(k));
      expr = `${cur.ref} * ${k}`;
    } else {
      const ds = divisorsIn(v, 2, d.maxFactor).filter((x) => v.toNumber() / x >= 1);
      if (ds.length === 0) continue;
      k = rng.pick(ds);
      value = v.div(R(k));
      expr = `${cur.ref} // ${k}`;
    }
    const clause = fill(rng.pick(d.phrases[kind]), { ...vars, k });
    const op: Op = { text: fill(d.comments[kind], { ...vars, k }), name: d.names[kind], expr, value };
    return { clause, op };
  }
}

function runChain(rng: Prng, d: ChainDomain, start: { ref: string; value: Rational }, n: number, vars: Record<string, string | number>): { clauses: string[]; ops: Op[] } {
  const clauses: string[] = [];
  const ops: Op[] = [];
  let cur = start;
  for (let i = 0; i < n; i++) {
    const { clause, op } = chainOp(rng, d, cur, vars);
    clauses.push(clause);
    ops.push(op);
    cur = { ref: op.name, value: op.value };
  }
  return { clauses, ops };
}

/** Instruction-style tail clauses shared by the abstract families. */
const TAIL: ChainDomain = {
  phrases: {
    add: ["Add {k} to the result.", "Then add {k}.", "Increase it by {k}."],
    sub: ["Subtract {k} from the result.", "Then take away {k}.", "Decrease it by {k}."],
    mul: ["Multiply the result by {k}.", "Then multiply by {k}.", "Make it {k} times as large."],
    div: ["Divide the result by {k}.", "Then divide by {k}.", "Split it into {k} equal parts and keep one part."],
  },
  names: { add: "result", sub: "result", mul: "result", div: "result" },
  comments: { add: "Add {k}", sub: "Subtract {k}", mul: "Multiply by {k}", div: "Divide by {k}" },
  maxFactor: 9,
};

// ---------------------------------------------------------------------------------------------
// 1. Arithmetic word problems: items, money, ages, work, distance.

const ITEMS: ChainDomain = {
  phrases: {
    add: ["{P} buys {k} more {obj}.", "{F} gives {o} {k} more {obj}.", "{P} finds {k} more {obj}."],
    sub: ["{P} gives {k} {obj} to {F}.", "{P} loses {k} {obj}.", "{P} sells {k} {obj}."],
    mul: ["Then {p} gets {k} times as many {obj} as {p} has.", "After a month {p} has {k} times as many {obj}."],
    div: ["{P} puts the {obj} into {k} equal boxes and keeps one box.", "{P} shares the {obj} equally among {k} bags and keeps one bag."],
  },
  names: { add: "total", sub: "left", mul: "total", div: "share" },
  comments: { add: "Add the {k} new {obj}", sub: "Take away the {k} {obj}", mul: "Multiply the {obj} by {k}", div: "Split the {obj} into {k} equal parts" },
  maxFactor: 6,
};

const MONEY: ChainDomain = {
  phrases: {
    add: ["{P} also buys a {item} for {k} dollars.", "Then {p} pays {k} dollars more for a {item}."],
    sub: ["A coupon takes {k} dollars off.", "{P} gets a discount of {k} dollars."],
    mul: ["{P} buys the same things for {k} weeks in a row.", "{P} buys the same order {k} times."],
    div: ["{P} and friends split the cost equally among {k} people.", "The cost is shared equally by {k} people."],
  },
  names: { add: "cost", sub: "cost", mul: "cost", div: "share" },
  comments: { add: "Add the {k} dollars", sub: "Subtract the {k} dollar discount", mul: "Multiply the cost by {k}", div: "Divide the cost among {k} people" },
  maxFactor: 6,
};

const WORK: ChainDomain = {
  phrases: {
    add: ["A second machine makes {k} more {obj}.", "Workers make {k} more {obj} by hand."],
    sub: ["{k} of the {obj} are broken.", "{k} {obj} fail the check and are thrown away."],
    mul: ["The same work is done on {k} days.", "The factory runs {k} such lines."],
    div: ["The {obj} are packed into {k} equal boxes. Count one box.", "The {obj} are sent equally to {k} shops. Count one shop."],
  },
  names: { add: "total", sub: "good", mul: "total", div: "per_box" },
  comments: { add: "Add the {k} extra {obj}", sub: "Remove the {k} bad {obj}", mul: "Multiply by {k}", div: "Divide the {obj} by {k}" },
  maxFactor: 6,
};

const DIST: ChainDomain = {
  phrases: {
    add: ["Then it travels {k} more km.", "After a stop it goes another {k} km."],
    sub: ["Then it goes back {k} km.", "It returns {k} km to pick up a bag."],
    mul: ["It makes the same trip {k} times.", "This is repeated on {k} days."],
    div: ["The road is split into {k} equal parts. Look at one part.", "A runner covers one of {k} equal parts of that distance."],
  },
  names: { add: "distance", sub: "distance", mul: "distance", div: "part" },
  comments: { add: "Add the {k} km", sub: "Subtract the {k} km", mul: "Multiply the distance by {k}", div: "Divide the distance by {k}" },
  maxFactor: 6,
};

const ITEM_NAMES = ["book", "hat", "lamp", "cake", "ball", "bag"];
const MACHINE_OBJECTS = ["toys", "cups", "chairs", "bottles"];
const VEHICLES = ["car", "bus", "train", "truck"];

function arithmetic(rng: Prng, level: number): Draft {
  const [P, p] = rng.pick(PEOPLE);
  const F = rng.pick(PEOPLE.filter(([n]) => n !== P))[0];
  const o = p === "she" ? "her" : "him";
  const scenario = rng.pick(["items", "money", "ages", "work", "distance"] as const);
  const base = { P, p, o, F, Pp: cap(p) };
  if (scenario === "ages") return ages(rng, level);
  if (scenario === "items") {
    const obj = rng.pick(OBJECTS);
    const vars = { ...base, obj };
    const useOp = level >= 2 && rng.float() < 0.5;
    let start: { ref: string; value: Rational };
    const clauses: string[] = [];
    const ops: Op[] = [];
    if (useOp) {
      const a = rng.range(2, 9);
      const b = rng.range(3, 12);
      clauses.push(fill(rng.pick(["{P} buys {a} packs of {obj} with {b} {obj} in each pack.", "{P} has {a} boxes with {b} {obj} in each box."]), { ...base, obj, a, b }));
      ops.push({ text: `Multiply ${a} packs by ${b} ${obj} each`, name: "total", expr: `${a} * ${b}`, value: R(a * b) });
      start = { ref: "total", value: R(a * b) };
    } else {
      const a = rng.range(10, 60);
      clauses.push(fill(rng.pick(["{P} has {a} {obj}.", "{P} starts with {a} {obj}."]), { ...base, obj, a }));
      start = { ref: String(a), value: R(a) };
    }
    const rest = runChain(rng, ITEMS, start, level - ops.length, vars);
    clauses.push(...rest.clauses);
    ops.push(...rest.ops);
    return finish(clauses, fill("How many {obj} does {P} have now?", { obj, P }), ops);
  }
  if (scenario === "money") {
    const item = rng.pick(ITEM_NAMES);
    const a = rng.range(2, 9);
    const b = rng.range(2, 15);
    const clauses = [fill("{P} buys {a} {item}s at {b} dollars each.", { P, a, b, item })];
    const ops: Op[] = [{ text: `Multiply ${a} ${item}s by ${b} dollars`, name: "cost", expr: `${a} * ${b}`, value: R(a * b) }];
    const change = level >= 2 && rng.float() < 0.4;
    const rest = runChain(rng, MONEY, { ref: "cost", value: R(a * b) }, level - 1 - (change ? 1 : 0), { ...base, item: rng.pick(ITEM_NAMES) });
    clauses.push(...rest.clauses);
    ops.push(...rest.ops);
    const last = ops[ops.length - 1]!;
    if (change) {
      const bill = [10, 20, 50, 100, 200, 500, 1000].find((x) => x > last.value.toNumber() + 1) ?? 5000;
      clauses.push(fill("{P} pays with a {bill} dollar bill.", { P, bill }));
      ops.push({ text: `Subtract the cost from ${bill} dollars`, name: "change", expr: `${bill} - ${last.name}`, value: R(bill).sub(last.value) });
      return finish(clauses, fill("How much change does {p} get?", { p }), ops);
    }
    const q = last.name === "share" ? "How much does each person pay?" : fill("How much does {p} pay in dollars?", { p });
    return finish(clauses, q, ops);
  }
  if (scenario === "work") {
    const obj = rng.pick(MACHINE_OBJECTS);
    const a = rng.range(3, 20);
    const t = rng.range(2, 9);
    const clauses = [fill(rng.pick(["A machine makes {a} {obj} per hour for {t} hours.", "A worker makes {a} {obj} each hour and works {t} hours."]), { a, obj, t })];
    const ops: Op[] = [{ text: `Multiply ${a} ${obj} per hour by ${t} hours`, name: "total", expr: `${a} * ${t}`, value: R(a * t) }];
    const rest = runChain(rng, WORK, { ref: "total", value: R(a * t) }, level - 1, { obj });
    return finish([...clauses, ...rest.clauses], fill("How many {obj} is that?", { obj }), [...ops, ...rest.ops]);
  }
  const veh = rng.pick(VEHICLES);
  const v = rng.range(3, 12) * 5;
  const t = rng.range(2, 6);
  const clauses = [fill("A {veh} travels at {v} km per hour for {t} hours.", { veh, v, t })];
  const ops: Op[] = [{ text: `Distance is speed times time: ${v} times ${t}`, name: "distance", expr: `${v} * ${t}`, value: R(v * t) }];
  const rest = runChain(rng, DIST, { ref: "distance", value: R(v * t) }, level - 1, {});
  return finish([...clauses, ...rest.clauses], "How many km is that?", [...ops, ...rest.ops]);
}

function ages(rng: Prng, level: number): Draft {
  const people = rng.shuffle(PEOPLE).slice(0, level + 1);
  const start = rng.range(4, 15);
  const clauses = [`${people[0]![0]} is ${start} years old.`];
  const ops: Op[] = [];
  let cur = { ref: String(start), value: R(start) };
  const future = level >= 2 && rng.float() < 0.3;
  const n = future ? level - 1 : level;
  for (let i = 1; i <= n; i++) {
    const X = people[i - 1]![0];
    const Y = people[i]![0];
    const name = Y.toLowerCase();
    const v = cur.value.toNumber();
    const choices: (() => [string, string, string, Rational])[] = [
      () => {
        const k = rng.range(2, 30);
        return [`${Y} is ${k} years older than ${X}.`, `Add ${k} years to ${X}'s age`, `${cur.ref} + ${k}`, cur.value.add(R(k))];
      },
    ];
    if (v > 3) {
      choices.push(() => {
        const k = rng.range(1, Math.min(20, v - 2));
        return [`${Y} is ${k} years younger than ${X}.`, `Subtract ${k} years from ${X}'s age`, `${cur.ref} - ${k}`, cur.value.sub(R(k))];
      });
    }
    if (v <= 30) {
      choices.push(() => {
        const k = rng.range(2, 4);
        return [`${Y} is ${k} times as old as ${X}.`, `Multiply ${X}'s age by ${k}`, `${cur.ref} * ${k}`, cur.value.mul(R(k))];
      });
    }
    const ds = divisorsIn(cur.value, 2, 4).filter((k) => v / k >= 2);
    if (ds.length > 0) {
      choices.push(() => {
        const k = rng.pick(ds);
        return [`${X} is ${k} times as old as ${Y}.`, `Divide ${X}'s age by ${k}`, `${cur.ref} // ${k}`, cur.value.div(R(k))];
      });
    }
    const [clause, text, expr, value] = rng.pick(choices)();
    clauses.push(clause);
    ops.push({ text, name, expr, value });
    cur = { ref: name, value };
  }
  const last = people[n]![0];
  if (future) {
    const k = rng.range(2, 20);
    ops.push({ text: `Add ${k} years`, name: "future", expr: `${cur.ref} + ${k}`, value: cur.value.add(R(k)) });
    return finish(clauses, `How old will ${last} be in ${k} years?`, ops);
  }
  return finish(clauses, `How old is ${last}?`, ops);
}

// ---------------------------------------------------------------------------------------------
// 2. Linear equations in one unknown: forward operations on x, solved by undoing them.

function linear(rng: Prng, level: number): Draft {
  for (;;) {
    const x = rng.range(1, 30) * (rng.float() < 0.15 ? -1 : 1);
    let v = R(x);
    let shape = "x";
    const fwd: { kind: OpKind; k: number }[] = [];
    for (let i = 0; i < level; i++) {
      const kinds: OpKind[] = ["add", "sub", "mul"];
      const ds = divisorsIn(v, 2, 9);
      if (ds.length > 0 && i > 0) kinds.push("div");
      const kind = rng.pick(kinds);
      const k = kind === "div" ? rng.pick(ds) : kind === "mul" ? rng.range(2, 9) : rng.range(1, 30);
      fwd.push({ kind, k });
      if (kind === "add") {
        v = v.add(R(k));
        shape = `${shape} + ${k}`;
      } else if (kind === "sub") {
        v = v.sub(R(k));
        shape = `${shape} - ${k}`;
      } else if (kind === "mul") {
        v = v.mul(R(k));
        shape = shape === "x" ? `${k}x` : `${k}(${shape})`;
      } else {
        v = v.div(R(k));
        shape = /^[\dx]+$/.test(shape) ? `${shape}/${k}` : `(${shape})/${k}`;
      }
    }
    if (Math.abs(v.toNumber()) > 100_000) continue;
    const word = rng.float() < 0.5;
    let text: string;
    if (word) {
      const verbs = fwd.map(({ kind, k }) => {
        if (kind === "add") return rng.pick([`add ${k}`, `add ${k} to it`]);
        if (kind === "sub") return rng.pick([`subtract ${k}`, `take away ${k}`]);
        if (kind === "mul") return rng.pick([`multiply by ${k}`, `multiply it by ${k}`]);
        return rng.pick([`divide by ${k}`, `divide it by ${k}`]);
      });
      const chain = verbs.length === 1 ? verbs[0]! : `${verbs.slice(0, -1).join(", then ")}, then ${verbs[verbs.length - 1]}`;
      text = `I think of a number. I ${chain}, and I get ${v}. What is my number?`;
    } else {
      text = rng.pick([`Solve for x: ${shape} = ${v}.`, `Find x if ${shape} = ${v}.`, `What value of x makes ${shape} = ${v} true?`]);
    }
    const ops: Op[] = [];
    let ref = v.sign() < 0 ? `(${v})` : v.toString();
    let cur = v;
    for (let i = fwd.length - 1; i >= 0; i--) {
      const { kind, k } = fwd[i]!;
      let expr: string;
      let comment: string;
      if (kind === "add") {
        cur = cur.sub(R(k));
        expr = `${ref} - ${k}`;
        comment = `Undo adding ${k}: subtract ${k}`;
      } else if (kind === "sub") {
        cur = cur.add(R(k));
        expr = `${ref} + ${k}`;
        comment = `Undo subtracting ${k}: add ${k}`;
      } else if (kind === "mul") {
        cur = cur.div(R(k));
        expr = `${ref} // ${k}`;
        comment = `Undo multiplying by ${k}: divide by ${k}`;
      } else {
        cur = cur.mul(R(k));
        expr = `${ref} * ${k}`;
        comment = `Undo dividing by ${k}: multiply by ${k}`;
      }
      const name = i === 0 ? "x" : "value";
      ops.push({ text: comment, name, expr, value: cur });
      ref = name;
    }
    return finish([text], "", ops);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Systems of two linear equations.

function system(rng: Prng, level: number): Draft {
  const word = rng.float() < 0.5;
  const [A, B] = rng.pick([["pens", "books"], ["apples", "pears"], ["cups", "plates"], ["hats", "bags"]] as const);
  if (level === 5) {
    // a*x + y = c1 and b*x + y = c2: eliminate y, solve x, then y.
    const x = rng.range(2, 15);
    const y = rng.range(2, 30);
    const a = rng.range(3, 8);
    const b = rng.range(1, a - 1);
    const c1 = a * x + y;
    const c2 = b * x + y;
    const bs = b === 1 ? "" : String(b);
    const text = word
      ? `${a} ${A} and 1 of the ${B} cost ${c1} dollars. ${b} ${A} and 1 of the ${B} cost ${c2} dollars. How much does one of the ${B} cost?`
      : `${a}x + y = ${c1} and ${bs}x + y = ${c2}. What is y?`;
    return finish([text], "", [
      { text: "Subtract the equations to remove y", name: "diff", expr: `${c1} - ${c2}`, value: R(c1 - c2) },
      { text: "The x terms differ by this much", name: "coef", expr: `${a} - ${b}`, value: R(a - b) },
      { text: "Solve for x", name: "x", expr: "diff // coef", value: R(x) },
      { text: `Find ${a} times x`, name: "ax", expr: `${a} * x`, value: R(a * x) },
      { text: "Solve for y from the first equation", name: "y", expr: `${c1} - ax`, value: R(y) },
    ]);
  }
  if (level === 3 && rng.float() < 0.5) {
    // x + y = S and x = k*y.
    const y = rng.range(2, 25);
    const k = rng.range(2, 6);
    const S = y * (k + 1);
    const text = word
      ? `A box has ${S} ${A} and ${B} in all. There are ${k} times as many ${A} as ${B}. How many ${A} are there?`
      : `x + y = ${S} and x = ${k}y. What is x?`;
    return finish([text], "", [
      { text: "Count the parts: x is k parts and y is 1 part", name: "parts", expr: `${k} + 1`, value: R(k + 1) },
      { text: "Find y as one part", name: "y", expr: `${S} // parts`, value: R(y) },
      { text: `Multiply y by ${k}`, name: "x", expr: `${k} * y`, value: R(k * y) },
    ]);
  }
  // x + y = S and x - y = D (x > y).
  const y = rng.range(1, 40);
  const x = y + rng.range(1, 30);
  const S = x + y;
  const D = x - y;
  if (level === 1) {
    const text = word
      ? `Two numbers add up to ${S}. One of them is ${y}. What is the other number?`
      : `x + y = ${S} and y = ${y}. What is x?`;
    return finish([text], "", [{ text: `Subtract ${y} from the sum`, name: "x", expr: `${S} - ${y}`, value: R(x) }]);
  }
  const head = word ? `The sum of two numbers is ${S} and their difference is ${D}.` : `x + y = ${S} and x - y = ${D}.`;
  const ops: Op[] = [
    { text: "Add the equations to get twice x", name: "twice", expr: `${S} + ${D}`, value: R(2 * x) },
    { text: "Halve it to get x", name: "x", expr: "twice // 2", value: R(x) },
  ];
  if (level === 2) return finish([head], word ? "What is the larger number?" : "What is x?", ops);
  ops.push({ text: "Subtract x from the sum to get y", name: "y", expr: `${S} - x`, value: R(y) });
  if (level === 3) return finish([head], word ? "What is the smaller number?" : "What is y?", ops);
  ops.push({ text: "Multiply x and y", name: "product", expr: "x * y", value: R(x * y) });
  return finish([head], word ? "What is the product of the two numbers?" : "What is x times y?", ops);
}

// ---------------------------------------------------------------------------------------------
// 4. Fractions and percentages.

const PERCENTS = [5, 10, 20, 25, 40, 50, 75];
const FRACS: readonly [number, number][] = [[1, 2], [1, 3], [2, 3], [1, 4], [3, 4], [1, 5], [2, 5], [3, 5], [1, 6], [5, 6], [3, 8], [5, 8]];

function fraction(rng: Prng, level: number): Draft {
  const mode = rng.pick(["chain", "percent", "part"] as const);
  if (mode === "chain") {
    const [a, b] = rng.pick(FRACS);
    const start = frac(a, b);
    const clauses = [`Start with ${a}/${b}.`];
    const ops: Op[] = [];
    let ref = `${a}/${b}`;
    let cur = start;
    for (let i = 0; i < level; i++) {
      const [c, d] = rng.pick(FRACS);
      const f = frac(c, d);
      const kind = rng.pick(["add", "sub", "mul", "div"] as const);
      let value: Rational;
      let expr: string;
      let clause: string;
      if (kind === "add") {
        value = cur.add(f);
        expr = `${ref} + ${c}/${d}`;
        clause = rng.pick([`Add ${c}/${d}.`, `Then add ${c}/${d}.`]);
      } else if (kind === "sub") {
        value = cur.sub(f);
        expr = `${ref} - ${c}/${d}`;
        clause = rng.pick([`Subtract ${c}/${d}.`, `Then take away ${c}/${d}.`]);
      } else if (kind === "mul") {
        value = cur.mul(f);
        expr = `${ref} * ${c}/${d}`;
        clause = rng.pick([`Multiply by ${c}/${d}.`, `Then multiply by ${c}/${d}.`]);
      } else {
        value = cur.div(f);
        expr = `${i === 0 ? `(${ref})` : ref} / (${c}/${d})`;
        clause = rng.pick([`Divide by ${c}/${d}.`, `Then divide by ${c}/${d}.`]);
      }
      clauses.push(clause);
      ops.push({ text: clause.replace(/^Then (\w)/, (_, ch: string) => ch.toUpperCase()).replace(/\.$/, ""), name: "result", expr, value });
      ref = "result";
      cur = value;
    }
    return finish(clauses, rng.pick(["What is the result?", "What number do you get?"]), ops);
  }
  const [P, p] = rng.pick(PEOPLE);
  const clauses: string[] = [];
  const ops: Op[] = [];
  let cur: Rational;
  let ref: string;
  let name: string;
  if (mode === "percent") {
    const item = rng.pick(ITEM_NAMES);
    const price = rng.range(2, 20) * 20;
    clauses.push(`${P} wants a ${item} that costs ${price} dollars.`);
    cur = R(price);
    ref = String(price);
    name = "price";
  } else {
    const total = rng.range(2, 12) * 24;
    const obj = rng.pick(OBJECTS);
    clauses.push(`${P} has ${total} ${obj}.`);
    cur = R(total);
    ref = String(total);
    name = "left";
  }
  for (let i = 0; i < level; i++) {
    let value: Rational = cur;
    let expr = "";
    let clause = "";
    let comment = "";
    // Counts and prices stay whole: redraw an operation that would give a fraction.
    for (let attempt = 0; attempt === 0 || !value.isInteger(); attempt++) {
      const kind = attempt >= 20 ? "times" : rng.pick(mode === "percent" ? ["off", "up", "of", "times"] as const : ["spend", "keep", "off", "times"] as const);
      if (kind === "off" || kind === "up") {
        const k = rng.pick(PERCENTS);
        const s = kind === "off" ? -1 : 1;
        value = cur.mul(R(100 + s * k)).div(R(100));
        expr = `${ref} * (100 ${s < 0 ? "-" : "+"} ${k}) / 100`;
        clause = mode === "percent"
          ? (kind === "off" ? rng.pick([`It is on sale for ${k}% off.`, `Then the price drops by ${k}%.`]) : rng.pick([`Then the price goes up by ${k}%.`, `A tax of ${k}% is added.`]))
          : `${cap(p)} gives away ${k}% of them.`;
        comment = kind === "off" ? `Take ${k}% off` : `Add ${k}%`;
      } else if (kind === "of") {
        const k = rng.pick(PERCENTS);
        value = cur.mul(R(k)).div(R(100));
        expr = `${ref} * ${k} / 100`;
        clause = `${P} pays only ${k}% of that price.`;
        comment = `Take ${k}% of the price`;
      } else if (kind === "times") {
        const k = rng.range(2, 5);
        value = cur.mul(R(k));
        expr = `${ref} * ${k}`;
        clause = mode === "percent" ? `${P} buys ${k} of them at that price.` : `${cap(p)} then gets ${k} times as many.`;
        comment = `Multiply by ${k}`;
      } else {
        const [a, b] = rng.pick(FRACS);
        if (kind === "spend") {
          value = cur.mul(frac(b - a, b));
          expr = `${ref} - ${ref} * ${a}/${b}`;
          clause = `${cap(p)} gives away ${a}/${b} of them.`;
          comment = `Subtract ${a}/${b} of them`;
        } else {
          value = cur.mul(frac(a, b));
          expr = `${ref} * ${a}/${b}`;
          clause = `${cap(p)} keeps ${a}/${b} of them.`;
          comment = `Take ${a}/${b} of them`;
        }
      }
    }
    clauses.push(clause);
    ops.push({ text: comment, name, expr, value });
    ref = name;
    cur = value;
  }
  const question = mode === "percent" ? rng.pick(["What is the price now in dollars?", `How much does ${P} pay in dollars?`]) : `How many does ${P} have now?`;
  return finish(clauses, question, ops);
}

// ---------------------------------------------------------------------------------------------
// 5. Number theory: gcd, lcm, remainders, divisibility, digit sums.

function numberTheory(rng: Prng, level: number): Draft {
  const clauses: string[] = [];
  const ops: Op[] = [];
  const g = rng.range(2, 12);
  const a = g * rng.range(2, 9);
  const b = g * rng.range(2, 9);
  const startKind = rng.pick(["gcd", "lcm", "mod", "digits", "multiples"] as const);
  let value: Rational;
  if (startKind === "gcd") {
    value = R(gcdN(a, b));
    clauses.push(rng.pick([`Take the greatest common divisor of ${a} and ${b}.`, `Find the largest number that divides both ${a} and ${b}.`]));
    ops.push({ text: `Greatest common divisor of ${a} and ${b}`, name: "result", expr: `gcd(${a}, ${b})`, value });
  } else if (startKind === "lcm") {
    const x = rng.range(2, 20);
    const y = rng.range(2, 20);
    value = R((x * y) / gcdN(x, y));
    clauses.push(rng.pick([`Take the least common multiple of ${x} and ${y}.`, `Find the smallest number that both ${x} and ${y} divide.`]));
    ops.push({ text: `Least common multiple of ${x} and ${y}`, name: "result", expr: `lcm(${x}, ${y})`, value });
  } else if (startKind === "mod") {
    const n = rng.range(20, 999);
    const m = rng.range(3, 13);
    value = R(n % m);
    clauses.push(rng.pick([`Find the remainder when ${n} is divided by ${m}.`, `Take the remainder of ${n} divided by ${m}.`]));
    ops.push({ text: `Remainder of ${n} divided by ${m}`, name: "result", expr: `${n} % ${m}`, value });
  } else if (startKind === "digits") {
    const n = rng.range(100, 99999);
    value = R([...String(n)].reduce((s, c) => s + Number(c), 0));
    clauses.push(rng.pick([`Find the sum of the digits of ${n}.`, `Add up the digits of ${n}.`]));
    ops.push({ text: `Sum of the digits of ${n}`, name: "result", expr: `digit_sum(${n})`, value });
  } else {
    const n = rng.range(20, 500);
    const m = rng.range(2, 13);
    value = R(Math.floor(n / m));
    clauses.push(rng.pick([`Count the numbers from 1 to ${n} that are divisible by ${m}.`, `Count the multiples of ${m} from 1 to ${n}.`]));
    ops.push({ text: `Multiples of ${m} up to ${n}`, name: "result", expr: `${n} // ${m}`, value });
  }
  let cur = value;
  for (let i = 1; i < level; i++) {
    const kinds = ["mod", "gcd", "lcm", "digits", "tail"] as const;
    const kind = rng.pick(kinds);
    let clause: string;
    let op: Op;
    if (kind === "mod" && cur.toNumber() > 3) {
      const m = rng.range(2, Math.min(13, Math.floor(cur.toNumber()) - 1));
      const v = cur.mod(R(m));
      clause = rng.pick([`Find the remainder when the result is divided by ${m}.`, `Then take the remainder after dividing by ${m}.`]);
      op = { text: `Remainder after dividing by ${m}`, name: "result", expr: `result % ${m}`, value: v };
    } else if (kind === "gcd" && cur.toNumber() >= 2) {
      const m = rng.range(2, 60);
      const v = R(gcdN(Number(cur.num), m));
      clause = `Take the greatest common divisor of the result and ${m}.`;
      op = { text: `Greatest common divisor with ${m}`, name: "result", expr: `gcd(result, ${m})`, value: v };
    } else if (kind === "lcm" && cur.toNumber() >= 1 && cur.toNumber() < 200) {
      const m = rng.range(2, 15);
      const c = Number(cur.num);
      const v = R((c * m) / gcdN(c, m));
      clause = `Take the least common multiple of the result and ${m}.`;
      op = { text: `Least common multiple with ${m}`, name: "result", expr: `lcm(result, ${m})`, value: v };
    } else if (kind === "digits" && cur.toNumber() >= 10) {
      const v = R([...String(cur.num)].reduce((s, ch) => s + Number(ch), 0));
      clause = "Then add up the digits of the result.";
      op = { text: "Sum of the digits", name: "result", expr: "digit_sum(result)", value: v };
    } else {
      const t = chainOp(rng, TAIL, { ref: "result", value: cur }, {});
      clause = t.clause;
      op = t.op;
    }
    clauses.push(clause);
    ops.push(op);
    cur = op.value;
  }
  return finish(clauses, rng.pick(["What is the result?", "What number do you get?"]), ops);
}

function gcdN(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

// ---------------------------------------------------------------------------------------------
// 6. Counting: stages of choices multiplied together.

function factorialN(n: number): number {
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
}

function combN(n: number, k: number): number {
  return factorialN(n) / (factorialN(k) * factorialN(n - k));
}

function counting(rng: Prng, level: number): Draft {
  for (;;) {
    const clauses: string[] = [];
    const ops: Op[] = [];
    let cur = R(1);
    const people = rng.pick(["students", "players", "friends", "workers", "children", "runners"]);
    for (let i = 0; i < level; i++) {
      // A bare choice is no operation on its own, so it never opens the chain.
      const kind = rng.pick(i === 0 ? ["comb", "perm", "fact"] as const : ["comb", "perm", "fact", "pick"] as const);
      let call: string;
      let v: number;
      let clause: string;
      let comment: string;
      if (kind === "comb") {
        const n = rng.range(4, 12);
        const k = rng.range(2, Math.min(4, n - 1));
        v = combN(n, k);
        call = `comb(${n}, ${k})`;
        clause = rng.pick([`Choose ${k} of ${n} ${people} for a team.`, `Pick a group of ${k} from ${n} ${people}.`]);
        comment = `Ways to choose ${k} of ${n}`;
      } else if (kind === "perm") {
        const n = rng.range(4, 12);
        const k = rng.range(2, 3);
        v = factorialN(n) / factorialN(n - k);
        call = `perm(${n}, ${k})`;
        clause = k === 2
          ? `From ${n} ${people}, pick a leader and a helper.`
          : `Give a first, second and third prize to ${k} of ${n} ${people}.`;
        comment = `Ordered choices of ${k} from ${n}`;
      } else if (kind === "fact") {
        const n = rng.range(3, 7);
        v = factorialN(n);
        call = `factorial(${n})`;
        clause = rng.pick([`Line up ${n} ${people} in a row.`, `Arrange ${n} books on a shelf.`]);
        comment = `Ways to arrange ${n} in a row`;
      } else {
        const n = rng.range(2, 8);
        v = n;
        call = String(n);
        clause = rng.pick([`Pick one of ${n} colors for the shirts.`, `Choose one of ${n} days for the game.`]);
        comment = `${n} choices`;
      }
      const value = cur.mul(R(v));
      clauses.push(i === 0 ? clause : `Then ${clause.charAt(0).toLowerCase()}${clause.slice(1)}`);
      ops.push({ text: i === 0 ? comment : `${comment}, times the ways so far`, name: "ways", expr: i === 0 ? call : `ways * ${call}`, value });
      cur = value;
    }
    if (cur.toNumber() > 2_000_000) continue;
    const question = level === 1 ? "How many ways are there?" : rng.pick(["How many ways are there in all?", "In how many ways can all this be done?"]);
    return finish(clauses, question, ops);
  }
}

// ---------------------------------------------------------------------------------------------
// 7. Arithmetic and geometric sequences and sums.

function sequence(rng: Prng, level: number): Draft {
  const clauses: string[] = [];
  const ops: Op[] = [];
  const geo = rng.float() < 0.4;
  const listed = level >= 2 && rng.float() < 0.5;
  const wantSum = level >= 2 && rng.float() < 0.5 && !(listed && level === 2);
  const a = geo ? rng.range(1, 5) : rng.range(1, 20);
  const d = geo ? rng.range(2, 3) : rng.range(2, 9);
  const n = geo ? rng.range(3, 8) : rng.range(5, 30);
  const kind = geo ? "geometric" : "arithmetic";
  if (listed) {
    const t1 = geo ? a * d : a + d;
    const t2 = geo ? t1 * d : t1 + d;
    clauses.push(`The ${kind} sequence starts ${a}, ${t1}, ${t2}.`);
    ops.push(geo
      ? { text: "The ratio is the second term over the first", name: "r", expr: `${t1} // ${a}`, value: R(d) }
      : { text: "The difference is the second term minus the first", name: "d", expr: `${t1} - ${a}`, value: R(d) });
  } else {
    clauses.push(geo
      ? `A ${kind} sequence starts with ${a} and each term is ${d} times the one before.`
      : `An ${kind} sequence starts with ${a} and each term is ${d} more than the one before.`);
  }
  const step = listed ? (geo ? "r" : "d") : String(d);
  let cur: Rational;
  if (wantSum) {
    clauses.push(`Find the sum of the first ${n} terms.`);
    cur = geo ? R(a * (d ** n - 1) / (d - 1)) : R((n * (2 * a + (n - 1) * d)) / 2);
    ops.push(geo
      ? { text: `Sum of ${n} terms: a (r^n - 1) / (r - 1)`, name: "result", expr: `${a} * (${step} ** ${n} - 1) // (${step} - 1)`, value: cur }
      : { text: `Sum of ${n} terms: n (2a + (n - 1) d) / 2`, name: "result", expr: `${n} * (2 * ${a} + (${n} - 1) * ${step}) // 2`, value: cur });
  } else {
    clauses.push(`Find term number ${n}.`);
    cur = geo ? R(a * d ** (n - 1)) : R(a + (n - 1) * d);
    ops.push(geo
      ? { text: `Term ${n} is a r^(n - 1)`, name: "result", expr: `${a} * ${step} ** (${n} - 1)`, value: cur }
      : { text: `Term ${n} is a + (n - 1) d`, name: "result", expr: `${a} + (${n} - 1) * ${step}`, value: cur });
  }
  const rest = runChain(rng, TAIL, { ref: "result", value: cur }, level - ops.length, {});
  clauses.push(...rest.clauses);
  ops.push(...rest.ops);
  return finish(clauses, rng.pick(["What is the result?", "What number do you get?"]), ops);
}

// ---------------------------------------------------------------------------------------------

const BUILDERS: Readonly<Record<string, (rng: Prng, level: number) => Draft>> = {
  arithmetic,
  linear,
  system,
  fraction,
  number_theory: numberTheory,
  counting,
  sequence,
};

/** The split a problem text belongs to (about one text in five is test). */
export function splitOf(text: string): "train" | "test" {
  return hashString(text)[0] % 5 === 0 ? "test" : "train";
}

/** One problem draft of a family at a level (no split filtering); exported for tests. */
export function draftProblem(rng: Prng, family: string, level: number): { problem: string; answer: string; solution: Step[] } {
  const build = BUILDERS[family];
  if (!build) throw new RangeError(`Cannot generate family "${family}": expected one of ${FAMILIES.join(", ")}`);
  const d = build(rng, level);
  const answer = typeof d.answer === "string" ? d.answer : d.answer.toString();
  return { problem: d.text.trim().replace(/\s+/g, " "), answer, solution: d.steps };
}

/**
 * Generates `count` distinct problems, deterministic by seed; every problem carries its exact
 * answer and a reference solution whose last step prints that answer. Throws RangeError on an
 * unknown family or a level outside 1–5 (a caller bug; the CLI validates first).
 */
export function generateProblems(opts: GenerateOptions): Problem[] {
  const split = opts.split ?? "train";
  if (opts.family !== undefined && !FAMILIES.includes(opts.family)) {
    throw new RangeError(`Cannot generate family "${opts.family}": expected one of ${FAMILIES.join(", ")}`);
  }
  if (opts.level !== undefined && !(Number.isInteger(opts.level) && opts.level >= MIN_LEVEL && opts.level <= MAX_LEVEL)) {
    throw new RangeError(`Cannot generate level ${opts.level}: expected an integer from ${MIN_LEVEL} to ${MAX_LEVEL}`);
  }
  const rng = Prng.fromSeed(`gen:${opts.seed}:${split}`);
  const seen = new Set<string>();
  const out: Problem[] = [];
  let misses = 0;
  while (out.length < opts.count) {
    const family = opts.family ?? rng.pick(FAMILIES);
    const level = opts.level ?? rng.range(MIN_LEVEL, MAX_LEVEL);
    const d = draftProblem(rng.fork(out.length * 7919 + misses), family, level);
    rng.nextU32();
    // A text belongs to one split only; duplicates are skipped unless the space looks exhausted.
    if (splitOf(d.problem) !== split || (seen.has(d.problem) && misses < 50 * (opts.count + 10))) {
      misses++;
      if (misses > 1000 * (opts.count + 10)) throw new RangeError("Cannot generate enough problems: the family is exhausted");
      continue;
    }
    seen.add(d.problem);
    out.push({ id: `${split}-${opts.seed}-${out.length}`, family, level, problem: d.problem, answer: d.answer, solution: d.solution });
  }
  return out;
}
