import { assert, describe, it } from "vitest";
import { answersEqual, canonicalAnswer, evalReal, extractAnswer } from "../../math/grade.ts";

/** [pred, gold, equal] — the grading table. */
const TABLE: readonly [string, string, boolean][] = [
  // integers and signs
  ["12", "12", true], ["12", "13", false], ["-5", "-5", true], ["-5", "5", false], ["+7", "7", true],
  ["007", "7", true], ["0", "-0", true], ["12.0", "12", true], ["12.", "12", true], ["1e3", "1000", true],
  // rationals and decimals
  ["3/4", "0.75", true], ["0.75", "3/4", true], ["6/8", "3/4", true], ["-3/4", "-0.75", true], ["3/4", "-3/4", false],
  ["1/3", "0.3333", true], ["1/3", "0.33", false], ["0.333333", "1/3", true], ["2/3", "0.6667", true], ["2/3", "0.67", false],
  ["3.14159", "3.1416", true], ["3.14", "3.1416", false], ["1.00001", "1", true], ["1.001", "1", false], ["-1/2", "-0.5", true],
  [".5", "1/2", true], ["0.5", "1 / 2", true], ["10/2", "5", true], ["7/1", "7", true], ["22/7", "3.142857", true],
  // percentages
  ["75%", "0.75", true], ["75%", "75", true], ["0.75", "75%", true], ["75", "75%", true], ["75\\%", "0.75", true],
  ["50%", "0.75", false], ["12.5%", "1/8", true], ["100%", "1", true], ["25 %", "25", true], ["7.5%", "0.075", true],
  // LaTeX fractions
  ["\\frac{3}{4}", "3/4", true], ["\\dfrac{3}{4}", "0.75", true], ["\\tfrac{1}{2}", "1/2", true], ["\\frac12", "0.5", true],
  ["-\\frac12", "-1/2", true], ["-\\frac{1}{2}", "-0.5", true], ["\\frac{-1}{2}", "-1/2", true], ["\\frac{10}{4}", "5/2", true],
  ["\\frac{3}{4}", "4/3", false], ["\\frac 34", "3/4", true],
  // mixed numbers
  ["2 1/2", "5/2", true], ["2\\frac{1}{2}", "2.5", true], ["2\\frac12", "5/2", true], ["-2 1/2", "-5/2", true], ["3 3/4", "15/4", true],
  ["2 1/2", "3/2", false],
  // thousands separators
  ["1,000", "1000", true], ["1,234,567", "1234567", true], ["12,345.5", "12345.5", true], ["1{,}000", "1000", false], ["1 000", "1000", true],
  ["10,000", "1000", false],
  // units, currency, degrees
  ["$5", "5", true], ["\\$5.00", "5", true], ["5 dollars", "5", true], ["5 cm", "5", true], ["90^\\circ", "90", true],
  ["90°", "90", true], ["90^{\\circ}", "90", true], ["12 \\text{ cm}", "12", true], ["12\\text{ cm}^2", "12", true], ["€20", "20", true],
  ["3 hours", "3", true], ["5cm", "5", true], ["12 sq ft", "12", true], ["7 \\text{ m}^2", "7", true], ["45 minutes", "45", true], ["30 \\text{ ways}", "30", true], ["5 km", "6", false], ["12 apples", "12", true],
  ["\\text{5}", "5", true], ["\\mathrm{7}", "7", true], ["$\\frac{1}{2}$", "1/2", true], ["$$3$$", "3", true], ["\\textbf{8}", "8", true],
  // definitions
  ["x = 5", "5", true], ["x=5", "5", true], ["y = -3", "-3", true], ["x = 5", "6", false], ["n = 3/4", "0.75", true],
  ["k = \\frac{2}{3}", "2/3", true], ["x = 1,000", "1000", true],
  // tuples, sets, intervals
  ["(2, 3)", "(2, 3)", true], ["(2,3)", "(2, 3)", true], ["(3, 2)", "(2, 3)", false], ["(1/2, 3)", "(0.5, 3)", true],
  ["(2, 3, 4)", "(2, 3)", false], ["\\{1, 2\\}", "\\{2, 1\\}", true], ["{1, 2}", "{2, 1}", true], ["{1, 2}", "{1, 3}", false],
  ["1, 2", "2, 1", true], ["1, 2", "1, 3", false], ["[1, 2)", "[1, 2)", true], ["[1, 2)", "[1, 2]", false], ["(1, 2]", "(1,2]", true],
  ["(-\\infty, 3]", "(-\\infty,3]", true], ["[0, \\infty)", "[0,\\infty)", true], ["\\left(2, 3\\right)", "(2, 3)", true],
  ["x = (2, 3)", "(2, 3)", true], ["(\\frac12, -1)", "(0.5, -1)", true], ["(2, 3)", "2, 3", true],
  // multiple choice
  ["B", "B", true], ["(B)", "B", true], ["B", "(B)", true], ["B", "C", false], ["\\text{(C)}", "C", true], ["(A)", "A", true],
  ["D", "(E)", false], ["option C", "C", true],
  // radicals and pi
  ["\\sqrt{2}", "\\sqrt{2}", true], ["\\sqrt{2}", "1.41421", true], ["2\\sqrt{3}", "\\sqrt{12}", true], ["\\sqrt{8}", "2\\sqrt{2}", true],
  ["\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", true], ["\\pi", "3.14159265", true], ["2\\pi", "\\pi", false], ["\\frac{\\pi}{2}", "\\pi/2", true],
  ["3\\sqrt{2}", "2\\sqrt{3}", false], ["\\sqrt{3}/3", "\\frac{\\sqrt{3}}{3}", true], ["4\\pi", "12.566", true], ["2^{10}", "1024", true],
  ["\\sqrt[3]{27}", "3", true], ["\\sqrt2", "\\sqrt{2}", true], ["5\\sqrt{5}", "\\sqrt{125}", true], ["1+\\sqrt{2}", "\\sqrt{2}+1", true],
  // algebraic expressions
  ["2x+3", "3+2x", true], ["x^2+2x+1", "(x+1)^2", true], ["2x+3", "2x+4", false], ["\\frac{x}{2}", "0.5x", true],
  ["3xy", "3yx", true], ["x+y", "x+z", false], ["2(a+b)", "2a+2b", true], ["n^2", "n*n", true], ["even", "neve", false],
  // text answers
  ["yes", "Yes", true], ["no", "yes", false], ["\\text{even}", "even", true], ["odd", "even", false], ["Tuesday", "tuesday", true], ["five", "5", true], ["Twelve", "12", true], ["seven", "8", false],
  // full model text vs gold
  ["The answer is \\boxed{42}.", "42", true], ["so \\boxed{\\frac{3}{4}}", "0.75", true], ["... #### 1,200", "1200", true],
  ["\\boxed{7}", "8", false], ["\\boxed{(2, 3)}", "(2,3)", true],
  ["x = 2, y = 3", "(2, 3)", true], ["(2, 3)", "x=2 and y=3", true], ["x = 3, y = 2", "(2, 3)", false], ["x \\in [1, 2]", "[1, 2]", true],
  ["25 percent", "0.25", true], ["\\frac{x}{2}", "x/2", true], ["\\frac{x+1}{2}", "(x+1)/2", true], ["1.5 \\times 10^3", "1500", true],
  ["10^{3}", "1000", true], ["2^{-1}", "0.5", true], ["The answer is 12.", "12", true], ["c", "C", true], ["2 and 3", "3, 2", true], ["2 and 4", "2, 3", false],
  // things that must not match
  ["", "5", false], ["5", "", false], ["abc", "5", false], ["5", "50", false], ["1/0", "0", false], ["-", "0", false],
  ["12", "1.2", false], ["0.1", "0.01", false], ["100", "1000", false], ["99.99", "100", false], ["3", "3/4", false],
];

describe("answersEqual", () => {
  it("agrees with the grading table on every case", () => {
    assert.isAtLeast(TABLE.length, 150);
    const wrong = TABLE.filter(([p, g, want]) => answersEqual(p, g) !== want);
    assert.deepEqual(wrong, []);
  });

  it("is symmetric on the table's plain answers", () => {
    for (const [p, g, want] of TABLE) {
      if (/\\boxed|####/.test(p)) continue;
      assert.equal(answersEqual(g, p), want, `${g} vs ${p}`);
    }
  });

  it("takes identical answers as equal at any length, and longer ones than it parses as unequal", () => {
    assert.isTrue(answersEqual("9".repeat(5000), "9".repeat(5000)));
    assert.isFalse(answersEqual("9".repeat(5000), "9".repeat(4999)));
  });

  it("never throws on hostile input", () => {
    for (const s of ["{".repeat(5000), "\\frac{".repeat(300), "(".repeat(1000), "9".repeat(5000), "\\sqrt[".repeat(100)]) {
      assert.isFalse(answersEqual(s, "1"));
    }
  });

  it("finishes on inputs built to make regular expressions backtrack", () => {
    const inputs = [
      "1 " + "cm ".repeat(600) + "X", "1" + " 1".repeat(900) + "!", "a".repeat(1999), "1,".repeat(900),
      "(" + "1,".repeat(600) + ")", "x = " + "y = ".repeat(400), "1 and ".repeat(300) + "x", "\\boxed{".repeat(300),
    ];
    for (const s of inputs) {
      assert.isFalse(answersEqual(s, "7"));
      assert.isString(canonicalAnswer(s));
      extractAnswer(s);
    }
  });
});

describe("extractAnswer", () => {
  const cases: [string, string | undefined][] = [
    ["We get \\boxed{42}.", "42"],
    ["First \\boxed{1}, finally \\boxed{2}", "2"],
    ["\\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{1}{\\sqrt{2}}"],
    ["\\boxed{{a}{b}}", "{a}{b}"],
    ["Thus the answer is 17.", "17"],
    ["The answer is 3.5 dollars.", "3.5 dollars"],
    ["The final answer is $\\frac{1}{2}$.", "\\frac{1}{2}"],
    ["Natalia sold 48 clips.\n#### 72", "72"],
    ["She has 3 apples and then 5 more, so 8", "8"],
    ["The total is -3/4 now", "-3/4"],
    ["It costs 1,250 dollars", "1,250"],
    ["no numbers here", undefined],
    ["\\boxed 5", "5"],
  ];
  for (const [text, want] of cases) {
    it(`finds ${JSON.stringify(want)} in ${JSON.stringify(text.slice(0, 30))}`, () => {
      assert.equal(extractAnswer(text), want);
    });
  }
});

describe("canonicalAnswer", () => {
  it("prints numbers, fractions, tuples and sets canonically", () => {
    assert.equal(canonicalAnswer("0.75"), "3/4");
    assert.equal(canonicalAnswer("\\frac{6}{8}"), "3/4");
    assert.equal(canonicalAnswer("-10/2"), "-5");
    assert.equal(canonicalAnswer("1,200"), "1200");
    assert.equal(canonicalAnswer("x = 12"), "12");
    assert.equal(canonicalAnswer("(2,3)"), "(2, 3)");
    assert.equal(canonicalAnswer("\\{3, 1\\}"), "{1, 3}");
    assert.equal(canonicalAnswer("(B)"), "B");
    assert.equal(canonicalAnswer("75%"), "75");
  });

  it("keeps every canonical form equal to its source", () => {
    for (const [p] of TABLE) {
      if (p === "" || /\\boxed|####|infty|option/.test(p)) continue;
      assert.isTrue(answersEqual(canonicalAnswer(p), p) || canonicalAnswer(p) === "", p);
    }
  });
});

describe("evalReal", () => {
  it("evaluates radicals, pi and powers numerically", () => {
    assert.closeTo(evalReal("2\\sqrt{3}")!, 2 * Math.sqrt(3), 1e-12);
    assert.closeTo(evalReal("\\frac{\\pi}{4}")!, Math.PI / 4, 1e-12);
    assert.equal(evalReal("2^{10}"), 1024);
    assert.isUndefined(evalReal("x + 1"));
  });
});
