import { assert, describe, it } from "vitest";
import { Rational } from "../../math/rational.ts";

const q = (s: string) => Rational.parse(s)!;

describe("Rational", () => {
  it("keeps values in lowest terms with a positive denominator", () => {
    assert.equal(Rational.of(6n, -8n).toString(), "-3/4");
    assert.equal(Rational.of(10n, 5n).toString(), "2");
    assert.equal(Rational.of(0n, -3n).toString(), "0");
  });

  it("parses integers, fractions, decimals and scientific notation exactly", () => {
    assert.equal(q("12").toString(), "12");
    assert.equal(q("-3/4").toString(), "-3/4");
    assert.equal(q("0.125").toString(), "1/8");
    assert.equal(q("2.5e-2").toString(), "1/40");
    assert.equal(q("1e3").toString(), "1000");
    assert.isUndefined(Rational.parse("1/0"));
    assert.isUndefined(Rational.parse("abc"));
    assert.isUndefined(Rational.parse(""));
  });

  it("does exact arithmetic without float error", () => {
    assert.equal(q("0.1").add(q("0.2")).toString(), "3/10");
    assert.equal(q("1/3").mul(q("3")).toString(), "1");
    assert.equal(q("2/3").div(q("4/9")).toString(), "3/2");
    assert.equal(q("2/3").powInt(-2n).toString(), "9/4");
    assert.equal(Rational.int(10n ** 30n).add(Rational.int(1)).toString(), "1000000000000000000000000000001");
  });

  it("floors, floor-divides and takes remainders like Python", () => {
    assert.equal(q("-7").floorDiv(q("2")).toString(), "-4");
    assert.equal(q("-7").mod(q("3")).toString(), "2");
    assert.equal(q("7").mod(q("-3")).toString(), "-2");
    assert.equal(q("-5/2").floor().toString(), "-3");
  });

  it("compares across different denominators", () => {
    assert.equal(q("1/3").compare(q("0.33")), 1);
    assert.equal(q("-1/2").compare(q("-1/3")), -1);
    assert.isTrue(q("2/4").equals(q("1/2")));
  });

  it("converts to a nearby float even for huge numerators", () => {
    assert.closeTo(q("1/3").toNumber(), 1 / 3, 1e-15);
    const big = Rational.of(10n ** 400n + 1n, 10n ** 400n);
    assert.closeTo(big.toNumber(), 1, 1e-12);
  });
});
