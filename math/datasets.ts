/**
 * Dataset loaders: JSONL files in three shapes, each line one problem.
 *
 * - ours: `{"problem", "answer"}` (optionally `id`, `family`, `level`)
 * - GSM8K: `{"question", "answer": "... #### 42"}`
 * - MATH: `{"problem", "solution": "... \\boxed{..} ..."}` (optionally `level: "Level 3"`, `type`)
 *
 * A bad line (or one whose id an earlier line has) is an error naming the file and the line
 * number; with `skipBad` it is skipped and counted instead. Blank lines are ignored.
 */
import { readFile } from "node:fs/promises";
import type { Problem } from "./contracts.ts";
import { canonicalAnswer, lastBoxed } from "./grade.ts";

/** Why one line of a dataset could not be read. */
export interface DatasetLineError {
  readonly _tag: "DatasetLineError";
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  readonly message: string;
}

/** Rejection of `loadDataset`: the file cannot be read, or a line is bad (without `skipBad`). */
export class DatasetError extends Error {
  /** Tag for matching on the error kind. */
  readonly _tag = "DatasetError";
  constructor(message: string, readonly file: string, readonly line: number) {
    super(message);
    this.name = "DatasetError";
  }
}

function lineError(file: string, line: number, why: string): DatasetLineError {
  return { _tag: "DatasetLineError", file, line, message: `Cannot read ${file} line ${line}: ${why}` };
}

function basename(path: string): string {
  const parts = path.split(/[\\/]/);
  return (parts[parts.length - 1] ?? path).replace(/\.jsonl?$/, "");
}

function str(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Parses one JSONL line into a Problem, or a tagged error value naming the file and line. */
export function parseDatasetLine(text: string, file: string, line: number): Problem | DatasetLineError {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (e) {
    return lineError(file, line, `invalid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof rec !== "object" || rec === null || Array.isArray(rec)) return lineError(file, line, "expected a JSON object");
  const r = rec as Record<string, unknown>;
  const id = str(r.id) ?? str(r.unique_id) ?? `${basename(file)}-${line}`;
  if (typeof r.question === "string") {
    // GSM8K: the answer follows "####" at the end of the worked solution.
    const ans = str(r.answer);
    if (ans === undefined) return lineError(file, line, 'GSM8K record needs a string "answer"');
    const m = /####\s*(.+?)\s*$/.exec(ans);
    const gold = m ? m[1]! : ans.includes("\n") ? undefined : ans;
    if (gold === undefined || gold.trim() === "") return lineError(file, line, 'GSM8K "answer" has no "#### x" final answer');
    return { id, family: str(r.family) ?? "gsm8k", level: 0, problem: r.question, answer: canonicalAnswer(gold) };
  }
  if (typeof r.problem !== "string" || r.problem.trim() === "") {
    return lineError(file, line, 'expected "problem" (or GSM8K "question") to be a non-empty string');
  }
  const levelOf = (v: unknown): number => {
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 5) return v;
    const m = typeof v === "string" ? /(\d)/.exec(v) : null;
    const n = m ? Number(m[1]) : 0;
    return n >= 1 && n <= 5 ? n : 0;
  };
  if (r.answer !== undefined) {
    const ans = str(r.answer);
    if (ans === undefined || ans.trim() === "") return lineError(file, line, '"answer" must be a non-empty string or a number');
    return { id, family: str(r.family) ?? "custom", level: levelOf(r.level), problem: r.problem, answer: canonicalAnswer(ans) };
  }
  if (typeof r.solution === "string") {
    const boxed = lastBoxed(r.solution);
    if (boxed === undefined || boxed.trim() === "") return lineError(file, line, 'MATH "solution" has no \\boxed{...} answer');
    const family = typeof r.type === "string" ? r.type.toLowerCase().replace(/[^a-z]+/g, "_") : "math";
    return { id, family, level: levelOf(r.level), problem: r.problem, answer: canonicalAnswer(boxed) };
  }
  return lineError(file, line, 'expected an "answer" or a MATH "solution"');
}

/**
 * Loads a JSONL dataset. Rejects with a `DatasetError` naming the file and line on the first bad
 * line, unless `skipBad` is set, in which case bad lines are skipped and counted.
 */
export async function loadDataset(path: string, opts: { skipBad?: boolean } = {}): Promise<{ problems: Problem[]; skipped: number }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new DatasetError(`Cannot read dataset ${path}: ${e instanceof Error ? e.message : String(e)}`, path, 0);
  }
  const problems: Problem[] = [];
  let skipped = 0;
  // A run records its work by problem id: two problems under one id would be one record.
  const lineOfId = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    if (raw.trim() === "") continue;
    let p = parseDatasetLine(raw, path, i + 1);
    const first = "_tag" in p ? undefined : lineOfId.get(p.id);
    if (first !== undefined) p = lineError(path, i + 1, `id "${(p as Problem).id}" is already the id of line ${first} (ids must be unique)`);
    if ("_tag" in p) {
      if (opts.skipBad) {
        skipped++;
        continue;
      }
      throw new DatasetError(p.message, path, i + 1);
    }
    lineOfId.set(p.id, i + 1);
    problems.push(p);
  }
  return { problems, skipped };
}
