/**
 * A deterministic word-level tokenizer for the step language and the problem texts, with
 * number slots so that a model can copy any number from the problem into its code.
 *
 * Text is split into pieces: an optional single leading space plus a word, a number, a newline
 * or one punctuation character. Words and punctuation map to vocabulary entries (`<unk>` when
 * unknown, never an error). Numbers never live in the vocabulary: the i-th distinct number
 * literal in the problem text becomes the slot token `<n_i>`, both in the problem and wherever the
 * same literal appears in the solution; every other number is spelled with digit tokens.
 * Decoding maps `<n_i>` back to its literal.
 *
 * A training sequence is `<bos> problem <sep> step₁ <step> step₂ <step> … stepₙ <eos>`, each step
 * rendered as `# text\ncode` (math/contracts.ts `renderStep`).
 */
import { renderStep, type Step } from "../math/contracts.ts";
import { FAMILIES, generateProblems, MAX_LEVEL, MIN_LEVEL } from "../math/generator.ts";

/** Special tokens, in vocabulary order (ids 0..). */
export const SPECIALS = ["<pad>", "<bos>", "<sep>", "<step>", "<eos>", "<unk>"] as const;

/** Id of the padding token. */
export const PAD = 0;
/** Id of the beginning-of-sequence token. */
export const BOS = 1;
/** Id of the token between the problem and the solution. */
export const SEP = 2;
/** Id of the step delimiter (ends every non-final step). */
export const STEP = 3;
/** Id of the end token (ends the final step). */
export const EOS = 4;
/** Id of the unknown-word token. */
export const UNK = 5;

/** Default number of number slots. */
export const DEFAULT_SLOTS = 16;

/** The step language's own pieces, always in the vocabulary even when a corpus lacks them. */
const BASE_WORDS = [
  "print", "def", "return", "if", "else", "elif", "for", "in", "range", "and", "or", "not",
  "True", "False", "None", "abs", "min", "max", "round", "int", "float", "sum", "len", "gcd",
  "lcm", "sqrt", "pow", "Fraction", "math", "import", "from", "while", "lambda", "answer",
];
const BASE_PUNCT = [..."+-*/%=()[]{},.:<>!#'\"^&|~?;@$\\_"];

/** Serialized form of a tokenizer (stored inside checkpoints). */
export interface TokenizerJSON {
  readonly format: "rstar-tokenizer/1";
  readonly slots: number;
  /** All tokens in id order, specials, digits and slots included. */
  readonly vocab: readonly string[];
}

/** A sequence ready for the model plus the slot literals needed to decode it. */
export interface Encoded {
  readonly ids: number[];
  /** `slots[i]` is the literal that `<n_i>` stands for. */
  readonly slots: readonly string[];
}

/** A training sequence with a per-token flag telling which target tokens carry loss. */
export interface EncodedExample extends Encoded {
  /** `lossMask[t]` is 1 when token `t` (as a prediction target) belongs to the solution. */
  readonly lossMask: number[];
  /** Number of tokens of the prompt (`<bos> problem <sep>`). */
  readonly promptLength: number;
}

const PIECE_RE = /( ?)(\d+(?:\.\d+)?|[A-Za-z_][A-Za-z_0-9]*|\n|[^\sA-Za-z_0-9]|[ \t\r\f\v])/gu;
const NUMBER_RE = /^\d+(?:\.\d+)?$/u;

interface Piece {
  readonly space: boolean;
  readonly core: string;
}

/** Splits text into pieces (leading-space flag + core); concatenating them gives the text back. */
export function splitPieces(text: string): Piece[] {
  const out: Piece[] = [];
  for (const m of text.matchAll(PIECE_RE)) {
    out.push({ space: m[1] === " ", core: m[2]! });
  }
  return out;
}

function slotToken(i: number, space: boolean): string {
  return `${space ? " " : ""}<n_${i}>`;
}

/** Distinct number literals of a problem text, in order of first appearance (at most `max`). */
export function numberSlots(problem: string, max = DEFAULT_SLOTS): string[] {
  const seen: string[] = [];
  for (const p of splitPieces(problem)) {
    if (NUMBER_RE.test(p.core) && !seen.includes(p.core)) {
      seen.push(p.core);
      if (seen.length >= max) break;
    }
  }
  return seen;
}

/** Deterministic tokenizer with number slots; build with `Tokenizer.build`, persist with `toJSON`. */
export class Tokenizer {
  readonly vocab: readonly string[];
  readonly slots: number;
  private readonly index: Map<string, number>;

  private constructor(vocab: readonly string[], slots: number) {
    this.vocab = vocab;
    this.slots = slots;
    this.index = new Map(vocab.map((t, i) => [t, i]));
    if (this.index.size !== vocab.length) throw new Error("Cannot build tokenizer: duplicate tokens");
  }

  /** Number of tokens. */
  get size(): number {
    return this.vocab.length;
  }

  /**
   * Builds a tokenizer from domain texts (problem statements and rendered steps): every word and
   * punctuation piece seen `minCount` times or more, plus the step language's base words.
   * The result depends only on the multiset of pieces, not on the order of `texts`.
   */
  static build(texts: Iterable<string>, opts: { slots?: number; minCount?: number } = {}): Tokenizer {
    const slots = opts.slots ?? DEFAULT_SLOTS;
    const minCount = opts.minCount ?? 1;
    const counts = new Map<string, number>();
    const add = (tok: string, n = 1) => counts.set(tok, (counts.get(tok) ?? 0) + n);
    for (const text of texts) {
      for (const p of splitPieces(text)) {
        if (NUMBER_RE.test(p.core)) continue;
        add((p.space ? " " : "") + p.core);
      }
    }
    for (const w of [...BASE_WORDS, ...BASE_PUNCT]) {
      add(w, minCount);
      add(" " + w, minCount);
    }
    add("\n", minCount);
    add(" ", minCount);
    const fixed: string[] = [...SPECIALS];
    for (let d = 0; d < 10; d++) fixed.push(String(d), ` ${d}`);
    for (let i = 0; i < slots; i++) fixed.push(slotToken(i, false), slotToken(i, true));
    const fixedSet = new Set(fixed);
    const words = [...counts.entries()]
      .filter(([t, c]) => c >= minCount && !fixedSet.has(t))
      .map(([t]) => t)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return new Tokenizer([...fixed, ...words], slots);
  }

  /**
   * The project's default tokenizer: built from `perCell` generated problems (statements and
   * reference steps) of every family × level × split. Deterministic: same arguments, same vocab.
   */
  static forDomain(opts: { perCell?: number; seed?: number; slots?: number; extra?: Iterable<string> } = {}): Tokenizer {
    const texts: string[] = [...(opts.extra ?? [])];
    for (const family of FAMILIES) {
      for (let level = MIN_LEVEL; level <= MAX_LEVEL; level++) {
        for (const split of ["train", "test"] as const) {
          const count = opts.perCell ?? 40;
          for (const p of generateProblems({ count, seed: opts.seed ?? 0, family, level, split })) {
            texts.push(p.problem, ...(p.solution ?? []).map(renderStep));
          }
        }
      }
    }
    return Tokenizer.build(texts, opts.slots === undefined ? {} : { slots: opts.slots });
  }

  /** Restores a tokenizer saved by `toJSON`; throws a TypeError naming what is wrong. */
  static fromJSON(json: unknown): Tokenizer {
    const j = json as Partial<TokenizerJSON> | null;
    if (j === null || typeof j !== "object" || j.format !== "rstar-tokenizer/1") {
      throw new TypeError(`Cannot read tokenizer: expected format "rstar-tokenizer/1"`);
    }
    if (!Array.isArray(j.vocab) || j.vocab.some((t) => typeof t !== "string")) {
      throw new TypeError("Cannot read tokenizer: vocab must be an array of strings");
    }
    if (typeof j.slots !== "number" || !Number.isInteger(j.slots) || j.slots < 0) {
      throw new TypeError("Cannot read tokenizer: slots must be a non-negative integer");
    }
    SPECIALS.forEach((s, i) => {
      if (j.vocab![i] !== s) throw new TypeError(`Cannot read tokenizer: token ${i} must be ${s}`);
    });
    return new Tokenizer(j.vocab.slice(), j.slots);
  }

  /** Plain JSON form (stored inside checkpoints). */
  toJSON(): TokenizerJSON {
    return { format: "rstar-tokenizer/1", slots: this.slots, vocab: this.vocab.slice() };
  }

  /** Id of a token string, or undefined. */
  id(token: string): number | undefined {
    return this.index.get(token);
  }

  /** Encodes text given the slot literals of the problem (pieces out of vocabulary become `<unk>`). */
  encodeText(text: string, slots: readonly string[]): number[] {
    const out: number[] = [];
    for (const p of splitPieces(text)) {
      if (NUMBER_RE.test(p.core)) {
        const s = slots.indexOf(p.core);
        if (s >= 0 && s < this.slots) {
          out.push(this.index.get(slotToken(s, p.space))!);
          continue;
        }
        for (let i = 0; i < p.core.length; i++) {
          const ch = p.core[i]!;
          const tok = i === 0 && p.space ? " " + ch : ch;
          out.push(this.index.get(tok) ?? this.fallback(tok));
        }
        continue;
      }
      const tok = (p.space ? " " : "") + p.core;
      const id = this.index.get(tok);
      if (id !== undefined) out.push(id);
      else if (p.space && this.index.has(p.core)) out.push(this.index.get(" ")!, this.index.get(p.core)!);
      else out.push(UNK);
    }
    return out;
  }

  private fallback(tok: string): number {
    if (tok.startsWith(" ")) {
      const id = this.index.get(tok.slice(1));
      if (id !== undefined) return id;
    }
    return UNK;
  }

  /** Decodes ids back to text; special tokens are dropped, `<n_i>` becomes `slots[i]`. */
  decode(ids: readonly number[], slots: readonly string[]): string {
    let out = "";
    for (const id of ids) {
      if (id < SPECIALS.length) {
        if (id === UNK) out += "<unk>";
        continue;
      }
      const tok = this.vocab[id];
      if (tok === undefined) continue;
      const m = /^( ?)<n_(\d+)>$/u.exec(tok);
      if (m !== null) {
        out += m[1]! + (slots[Number(m[2])] ?? "0");
      } else {
        out += tok;
      }
    }
    return out;
  }

  /** Encodes `<bos> problem <sep> step₁ <step> … stepₙ <step>` (the context for the next step). */
  encodePrompt(problem: string, steps: readonly Step[]): Encoded {
    const slots = numberSlots(problem, this.slots);
    const ids = [BOS, ...this.encodeText(problem, slots), SEP];
    for (const s of steps) ids.push(...this.encodeText(renderStep(s), slots), STEP);
    return { ids, slots };
  }

  /**
   * Encodes a whole solution for supervised training: the prompt, then every step followed by
   * `<step>`, except the last one followed by `<eos>` when `complete` (default true).
   */
  encodeExample(problem: string, steps: readonly Step[], complete = true): EncodedExample {
    const slots = numberSlots(problem, this.slots);
    const ids = [BOS, ...this.encodeText(problem, slots), SEP];
    const promptLength = ids.length;
    steps.forEach((s, i) => {
      ids.push(...this.encodeText(renderStep(s), slots));
      ids.push(complete && i === steps.length - 1 ? EOS : STEP);
    });
    const lossMask = ids.map((_, t) => (t >= promptLength ? 1 : 0));
    return { ids, slots, lossMask, promptLength };
  }
}

/** Parses generated step text (`# comment\ncode`) into a Step; text without `#` is all code. */
export function parseStep(generated: string): Step {
  const s = generated.replace(/^\n+/u, "");
  if (!s.startsWith("#")) return { text: "", code: s.trimEnd() };
  const nl = s.indexOf("\n");
  const first = nl < 0 ? s : s.slice(0, nl);
  const code = nl < 0 ? "" : s.slice(nl + 1).trimEnd();
  return { text: first.replace(/^#\s?/u, "").trim(), code };
}
