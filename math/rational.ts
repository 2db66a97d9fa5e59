/**
 * Exact rational numbers over BigInt, always kept in lowest terms with a positive denominator.
 * Integers are rationals whose denominator is 1. Printing is canonical: `12`, `-5`, `3/4`.
 *
 * @example
 * const x = Rational.of(3n, 4n).add(Rational.int(1)); // 7/4
 * x.toString(); // "7/4"
 */

/** Greatest common divisor of two BigInts (always non-negative). */
export function bigGcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** Number of bits of |n| (0 for 0). */
export function bitLength(n: bigint): number {
  if (n < 0n) n = -n;
  if (n === 0n) return 0;
  if (n < 0x20000000000000n) return Math.floor(Math.log2(Number(n))) + 1;
  return n.toString(16).length * 4;
}

/** An exact rational number num/den in lowest terms, den > 0. */
export class Rational {
  /** Numerator (sign carrier). */
  readonly num: bigint;
  /** Denominator, always positive. */
  readonly den: bigint;

  private constructor(num: bigint, den: bigint) {
    this.num = num;
    this.den = den;
  }

  /** The integer n as a rational. */
  static int(n: bigint | number): Rational {
    return new Rational(typeof n === "bigint" ? n : BigInt(n), 1n);
  }

  /** num/den reduced to lowest terms; throws RangeError on a zero denominator (a bug at call sites). */
  static of(num: bigint, den: bigint = 1n): Rational {
    if (den === 0n) throw new RangeError("Cannot build a rational: denominator is zero");
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    if (den === 1n) return new Rational(num, 1n);
    const g = bigGcd(num, den);
    return g === 1n ? new Rational(num, den) : new Rational(num / g, den / g);
  }

  /**
   * Parses "12", "-5", "3/4", "-0.125", "1e3", "2.5e-2" exactly; undefined when not a plain number.
   */
  static parse(text: string): Rational | undefined {
    const s = text.trim();
    const frac = /^([+-]?\d+)\s*\/\s*([+-]?\d+)$/.exec(s);
    if (frac) {
      const den = BigInt(frac[2]!);
      if (den === 0n) return undefined;
      return Rational.of(BigInt(frac[1]!), den);
    }
    const dec = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
    if (!dec) return undefined;
    const intPart = dec[2] ?? "";
    const fracPart = dec[3] ?? "";
    if (intPart.length === 0 && fracPart.length === 0) return undefined;
    const exp = dec[4] === undefined ? 0 : Number(dec[4]);
    if (!Number.isFinite(exp) || Math.abs(exp) > 400) return undefined;
    let num = BigInt((intPart || "0") + fracPart);
    let den = 10n ** BigInt(fracPart.length);
    if (exp > 0) num *= 10n ** BigInt(exp);
    else if (exp < 0) den *= 10n ** BigInt(-exp);
    if (dec[1] === "-") num = -num;
    return Rational.of(num, den);
  }

  /** The exact value of a finite JS number (binary fractions are exact). */
  static fromNumber(x: number): Rational {
    if (!Number.isFinite(x)) throw new RangeError(`Cannot convert to a rational: ${x} is not finite`);
    if (Number.isInteger(x)) return Rational.int(BigInt(x));
    let den = 1n;
    let v = x;
    while (!Number.isInteger(v)) {
      v *= 2;
      den *= 2n;
    }
    return Rational.of(BigInt(v), den);
  }

  /** True when the denominator is 1. */
  isInteger(): boolean {
    return this.den === 1n;
  }

  /** True when the value is zero. */
  isZero(): boolean {
    return this.num === 0n;
  }

  /** Sign: -1, 0 or 1. */
  sign(): number {
    return this.num < 0n ? -1 : this.num > 0n ? 1 : 0;
  }

  /** this + o. */
  add(o: Rational): Rational {
    if (this.den === 1n && o.den === 1n) return new Rational(this.num + o.num, 1n);
    return Rational.of(this.num * o.den + o.num * this.den, this.den * o.den);
  }

  /** this - o. */
  sub(o: Rational): Rational {
    if (this.den === 1n && o.den === 1n) return new Rational(this.num - o.num, 1n);
    return Rational.of(this.num * o.den - o.num * this.den, this.den * o.den);
  }

  /** this * o. */
  mul(o: Rational): Rational {
    if (this.den === 1n && o.den === 1n) return new Rational(this.num * o.num, 1n);
    return Rational.of(this.num * o.num, this.den * o.den);
  }

  /** this / o; throws RangeError when o is zero (callers check first). */
  div(o: Rational): Rational {
    if (o.num === 0n) throw new RangeError("Cannot divide: divisor is zero");
    return Rational.of(this.num * o.den, this.den * o.num);
  }

  /** -this. */
  neg(): Rational {
    return new Rational(-this.num, this.den);
  }

  /** |this|. */
  abs(): Rational {
    return this.num < 0n ? new Rational(-this.num, this.den) : this;
  }

  /** Floor of this (an integer rational). */
  floor(): Rational {
    if (this.den === 1n) return this;
    let q = this.num / this.den;
    if (this.num < 0n) q -= 1n;
    return new Rational(q, 1n);
  }

  /** Python floor division: floor(this / o). */
  floorDiv(o: Rational): Rational {
    return this.div(o).floor();
  }

  /** Python modulo: this - o * floor(this / o) (sign follows the divisor). */
  mod(o: Rational): Rational {
    return this.sub(o.mul(this.floorDiv(o)));
  }

  /** this ** e for an integer exponent (negative exponents invert; 0 ** negative throws RangeError). */
  powInt(e: bigint): Rational {
    if (e >= 0n) return new Rational(this.num ** e, this.den ** e);
    if (this.num === 0n) throw new RangeError("Cannot raise zero to a negative power");
    return Rational.of(this.den ** -e, this.num ** -e);
  }

  /** -1, 0 or 1 as this is less than, equal to or greater than o. */
  compare(o: Rational): number {
    const l = this.num * o.den;
    const r = o.num * this.den;
    return l < r ? -1 : l > r ? 1 : 0;
  }

  /** Exact equality. */
  equals(o: Rational): boolean {
    return this.num === o.num && this.den === o.den;
  }

  /** Nearest JS number (may lose precision). */
  toNumber(): number {
    if (this.den === 1n) return Number(this.num);
    const n = Number(this.num);
    const d = Number(this.den);
    if (Number.isFinite(n) && Number.isFinite(d)) return n / d;
    // Scale both down to keep the ratio representable.
    const shift = BigInt(Math.max(bitLength(this.num), bitLength(this.den)) - 1000);
    return Number(this.num >> shift) / Number(this.den >> shift);
  }

  /** Canonical text: "12", "-5", "3/4", "-7/2". */
  toString(): string {
    return this.den === 1n ? this.num.toString() : `${this.num}/${this.den}`;
  }
}

/** The rational zero. */
export const ZERO: Rational = Rational.int(0n);
/** The rational one. */
export const ONE: Rational = Rational.int(1n);
