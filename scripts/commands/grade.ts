/** `rstar grade`: grades JSONL {"pred","gold"} lines from stdin, one {"equal"} per line, in order. */
import { Command } from "commander";
import { stdinLines, writeLine } from "../cli.ts";
import { answersEqual, extractAnswer } from "../../math/grade.ts";

/** Builds the `grade` subcommand. */
export function command(): Command {
  return new Command("grade")
    .description('grade JSONL {"pred","gold"} on stdin; writes {"equal"} per line, in order (blank lines are skipped)')
    .option("--extract", "extract the final answer from pred as model text first (\\boxed{}, \"the answer is\", ####, last number)")
    .action(async (opts: { extract?: boolean }) => {
      let n = 0;
      for await (const line of stdinLines()) {
        n++;
        if (line.trim() === "") continue;
        let out: Record<string, unknown>;
        try {
          const rec: unknown = JSON.parse(line);
          if (typeof rec !== "object" || rec === null || Array.isArray(rec)) throw new TypeError("expected a JSON object");
          const r = rec as Record<string, unknown>;
          const asText = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? String(v) : v);
          const pred = asText(r.pred);
          const gold = asText(r.gold);
          if (typeof pred !== "string" || typeof gold !== "string") throw new TypeError('expected "pred" and "gold" to be strings');
          const p = opts.extract ? extractAnswer(pred) : pred;
          out = { equal: p !== undefined && answersEqual(p, gold) };
        } catch (e) {
          out = { equal: false, error: `Cannot read input line ${n}: ${e instanceof Error ? e.message : String(e)}` };
        }
        await writeLine(JSON.stringify(out));
      }
    });
}
