/** `rstar gen`: writes generated problems as JSONL. */
import { Command } from "commander";
import { choiceOption, intOption } from "../cli.ts";
import { FAMILIES, generateProblems } from "../../math/generator.ts";

/** Parses --level: an integer from 1 to 5. */
const levelOption = intOption("--level", 1, 5);

/** Builds the `gen` subcommand. */
export function command(): Command {
  return new Command("gen")
    .description('generate problems as JSONL, one {"id","family","level","problem","answer"} per line')
    .option("--count <n>", "number of problems", intOption("--count"), 10)
    .option("--seed <s>", "seed (same seed, same problems)", intOption("--seed"), 0)
    .option("--family <f>", `one family: ${FAMILIES.join("|")}`, choiceOption("--family", FAMILIES))
    .option("--level <l>", "difficulty 1-5 = number of solution steps", levelOption)
    .option("--split <s>", "train|test (never share a problem text)", choiceOption("--split", ["train", "test"] as const), "train")
    .option("--solution", "also write the reference solution steps (for tests and debugging)")
    .action(async (opts: { count: number; seed: number; family?: string; level?: number; split: "train" | "test"; solution?: boolean }) => {
      const problems = generateProblems({
        count: opts.count,
        seed: opts.seed,
        split: opts.split,
        ...(opts.family !== undefined ? { family: opts.family } : {}),
        ...(opts.level !== undefined ? { level: opts.level } : {}),
      });
      const enc = new TextEncoder();
      let buf = "";
      const flush = async () => {
        const data = enc.encode(buf);
        let off = 0;
        while (off < data.length) off += await Deno.stdout.write(data.subarray(off));
        buf = "";
      };
      for (const p of problems) {
        const rec: Record<string, unknown> = { id: p.id, family: p.family, level: p.level, problem: p.problem, answer: p.answer };
        if (opts.solution) rec.solution = p.solution;
        buf += JSON.stringify(rec) + "\n";
        if (buf.length > 1 << 16) await flush();
      }
      await flush();
    });
}
