/**
 * Shared CLI plumbing: the usage-error type, option parsers and exit codes used by every
 * `rstar` subcommand.
 */
import { InvalidArgumentError } from "commander";

/** Exit codes: 0 ok, 1 the job failed, 2 the command line was wrong. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

/** Parses an integer option from `min` (and up to `max` when given), with a one-line reason on bad input. */
export function intOption(name: string, min = 0, max?: number): (value: string) => number {
  return (value: string) => {
    const n = /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : NaN; // not "", "1e1" or "0x10"
    if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
      const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`${name} must be an integer ${range}, got "${value}"`);
    }
    return n;
  };
}

/** Parses a finite number option. */
export function numberOption(name: string): (value: string) => number {
  return (value: string) => {
    const n = value.trim() === "" ? NaN : Number(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${value}"`);
    return n;
  };
}

/** Parses an option restricted to a set of choices. */
export function choiceOption<T extends string>(name: string, choices: readonly T[]): (value: string) => T {
  return (value: string) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`${name} must be one of ${choices.join("|")}, got "${value}"`);
    }
    return value as T;
  };
}

/** Reads all of standard input as lines (without the trailing empty line). */
export async function* stdinLines(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  // The unfinished line's pieces: each chunk is searched once, so a long line costs its length.
  let parts: string[] = [];
  const split = function* (text: string): Generator<string> {
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      parts.push(text.slice(start, nl));
      yield parts.join("");
      parts = [];
      start = nl + 1;
    }
    if (start < text.length) parts.push(text.slice(start));
  };
  for await (const chunk of Deno.stdin.readable) yield* split(decoder.decode(chunk, { stream: true }));
  yield* split(decoder.decode());
  if (parts.length > 0) yield parts.join("");
}

/** Writes one line to stdout, waiting for the write (safe for large outputs and pipes). */
const encoder = new TextEncoder();
export async function writeLine(line: string): Promise<void> {
  const data = encoder.encode(line + "\n");
  let off = 0;
  while (off < data.length) off += await Deno.stdout.write(data.subarray(off));
}

/** Fails the command with a one-line reason and exit code 1 (not a usage error). */
export class CommandFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandFailed";
  }
}
