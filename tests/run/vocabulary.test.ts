import { afterAll, assert, describe, it } from "vitest";
import { join } from "node:path";
import { loadPolicy } from "../../models/checkpoint.ts";
import { resolveConfig } from "../../scripts/run/config.ts";
import { createLocalServices } from "../../scripts/run/localServices.ts";
import { silentProgress } from "../../scripts/run/progress.ts";

const root = await Deno.makeTempDir({ prefix: "rstar-vocab-" });
afterAll(() => Deno.remove(root, { recursive: true }).catch(() => {}));

describe("the policy trained from scratch", () => {
  it("builds its vocabulary from training texts and never reads the test split's", async () => {
    const line = (problem: string, answer: string) => JSON.stringify({ problem, answer });
    await Deno.writeTextFile(join(root, "train.jsonl"), [line("Ann has 3 apples and buys 4 more. How many apples?", "7")].join("\n") + "\n");
    await Deno.writeTextFile(join(root, "test.jsonl"), [line("Zorblax owns 5 quasars and gets 2 more. How many quasars?", "7")].join("\n") + "\n");
    const smoke = resolveConfig("smoke");
    const config = { ...smoke, train: { ...smoke.train, dataset: join(root, "train.jsonl") }, test: { ...smoke.test, dataset: join(root, "test.jsonl") } };
    const services = createLocalServices();
    await services.start(config);
    try {
      const sft = [{ problemId: "a", problem: "Ann has 3 apples and buys 4 more. How many apples?", steps: [{ text: "add 3 and 4", code: "print(3 + 4)" }], answer: "7", meanQ: 1 }];
      await services.train(
        { round: 1, sft, pairs: [], policyDir: join(root, "policy"), ppmDir: join(root, "ppm"), seed: 1, config },
        { progress: silentProgress },
      );
      const policy = await loadPolicy(join(root, "policy"));
      const vocab = new Set(policy.tokenizer.toJSON().vocab);
      policy.dispose();
      assert.isTrue(vocab.has(" apples"), "a training word is in the vocabulary");
      for (const word of [" quasars", "Zorblax", " owns"]) assert.isFalse(vocab.has(word), `${word} comes only from the test split`);
    } finally {
      await services.close();
    }
  });
});
