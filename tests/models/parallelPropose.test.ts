import { assert, beforeAll, describe, it } from "vitest";
import { initBackend } from "../../models/backend.ts";
import { dealRequests, openProposeWorkers, ThreadedPolicy } from "../../models/parallelPropose.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import { PRESETS } from "../../models/transformer.ts";

const problems = [
  "Mia has 12 red pens and 30 blue pens. How many pens does Mia have?",
  "A box holds 6 rows of 7 eggs. 5 eggs break. How many are left?",
  "Tom reads 15 pages a day for 4 days. How many pages is that?",
];
const tok = Tokenizer.build([...problems, "# Add the pens\ntotal = 12 + 30\nprint(total)"]);
const config = { ...PRESETS.smoke, maxLen: 96, stepTokens: 10, positions: "alibi" as const };

describe("ThreadedPolicy", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("deals requests whole and in order into parts of about equal sample rows", () => {
    assert.deepEqual(dealRequests([{ k: 4 }, { k: 4 }, { k: 4 }, { k: 4 }], 2), [0, 2]);
    assert.deepEqual(dealRequests([{ k: 8 }, { k: 1 }, { k: 1 }], 2), [0, 1]);
    assert.deepEqual(dealRequests([{ k: 4 }], 3), [0], "one request cannot be split");
    assert.deepEqual(
      dealRequests([{ k: 2 }, { k: 2 }, { k: 2 }, { k: 2 }, { k: 2 }, { k: 2 }], 3),
      [0, 2, 4],
    );
  });

  it("proposes the same candidates on two threads as the policy alone, and closes its workers", async () => {
    const requests = Array.from({ length: 12 }, (_, i) => ({
      problem: problems[i % problems.length]!,
      steps: i % 2 === 0 ? [] : [{ text: "Add", code: "x = 12 + 30" }],
      k: 4,
      temperature: 1,
      topP: 0.95,
      seed: 100 + i,
    }));
    const alone = TinyPolicy.create(config, tok, 7).proposeSync(requests);
    const threaded = await ThreadedPolicy.start(TinyPolicy.create(config, tok, 7), { threads: 2 });
    try {
      assert.equal(threaded.threads, 2);
      assert.equal(openProposeWorkers(), 1);
      const out = await threaded.propose(requests);
      assert.equal(out.length, requests.length);
      assert.deepEqual(
        out.map((c) => c.map((s) => [s.text, s.code, s.tokens])),
        alone.map((c) => c.map((s) => [s.text, s.code, s.tokens])),
      );
      out.flat().forEach((s, i) => assert.closeTo(s.logprob, alone.flat()[i]!.logprob, 1e-4));
      assert.equal(threaded.threads, 2, "the worker answered its part (a failed one is dropped)");
      // Concurrent calls each get their own answers.
      const [a, b] = await Promise.all([
        threaded.propose(requests.slice(0, 6)),
        threaded.propose(requests.slice(6)),
      ]);
      assert.deepEqual(
        [...a, ...b].map((c) => c.map((s) => s.code)),
        alone.map((c) => c.map((s) => s.code)),
      );
    } finally {
      threaded.dispose();
    }
    assert.equal(openProposeWorkers(), 0);
  });

  it("leaves out a worker that cannot start, and generates the same candidates on this thread", async () => {
    const requests = Array.from(
      { length: 8 },
      (_, i) => ({ problem: problems[i % 3]!, steps: [], k: 4, temperature: 1, topP: 1, seed: i }),
    );
    const alone = TinyPolicy.create(config, tok, 5).proposeSync(requests);
    const threaded = await ThreadedPolicy.start(TinyPolicy.create(config, tok, 5), {
      threads: 2,
      backend: "no-such-backend",
    });
    try {
      assert.equal(threaded.threads, 1);
      assert.equal(openProposeWorkers(), 0, "the failed worker was closed");
      const out = await threaded.propose(requests);
      assert.deepEqual(
        out.map((c) => c.map((s) => s.code)),
        alone.map((c) => c.map((s) => s.code)),
      );
      assert.equal(threaded.splitCalls, 0);
    } finally {
      threaded.dispose();
    }
  });
});
