import { assert, describe, it } from "vitest";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import type { RemoteSolveOutput } from "../../scripts/commands/solve.ts";
import { solveNotes, solveOverNats } from "../../scripts/commands/solve.ts";
import { initBackend } from "../../models/backend.ts";
import { TinyPolicy } from "../../models/policy.ts";
import { Tokenizer } from "../../models/tokenizer.ts";
import { PRESETS } from "../../models/transformer.ts";
import { main } from "../../scripts/rstar.ts";
import { startScriptedSystem } from "../helpers/scriptedSystem.ts";

const NATS = "nats://127.0.0.1:4222";
const uniqueRun = (tag: string) => `solve-${tag}-${Deno.pid}-${Date.now()}`;

/** Runs `rstar` in a child process (so this process keeps answering on the bus meanwhile). */
async function rstar(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("node_modules/.bin/deno", {
    args: ["run", "-A", "--quiet", "scripts/rstar.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

describe("rstar solve --nats", () => {
  it("asks a running system and prints its steps with their code output, the answer and the model versions", async () => {
    const run = uniqueRun("ok");
    const bus = await connectNatsBus(NATS, { log: () => {} });
    const sys = startScriptedSystem({ bus, run, roles: ["expander", "scorer", "searcher"], heartbeatMs: 0 });
    try {
      await bus.flush();
      const direct = await solveOverNats("What is x plus one?", { url: NATS, run, rollouts: 4, timeoutMs: 10_000 });
      assert.strictEqual(direct.run, run);
      assert.deepStrictEqual(direct.models, { policy: "scripted-v1", ppm: "const-v1" });
      assert.strictEqual(direct.steps.length, 3);
      assert.strictEqual(direct.steps[2]!.code, "print(y)");
      // The printed value is the answer, and the last step's output shows it.
      assert.isDefined(direct.answer);
      assert.strictEqual(direct.steps[2]!.output, direct.answer);

      const cli = await rstar(["solve", "--nats", NATS, "--run", run, "--rollouts", "4", "--json", "What is x plus one?"]);
      assert.strictEqual(cli.code, 0, cli.stderr);
      const out = JSON.parse(cli.stdout) as RemoteSolveOutput;
      assert.deepInclude(out, { problem: "What is x plus one?", run, models: direct.models, value: 0.5 });
      assert.deepStrictEqual(out.steps.map((st) => st.text.split(" ")[0]), ["set", "add", "answer"]);
      assert.strictEqual(out.steps[2]!.output, out.answer);

      const text = await rstar(["solve", "--nats", NATS, "--run", `runs/${run}`, "--rollouts", "4", "What is x plus one?"]);
      assert.strictEqual(text.code, 0, text.stderr);
      const printed = /step 3: # answer\n\s+print\(y\)\n\s+-> (\S+)\n/.exec(text.stdout);
      assert.isNotNull(printed, text.stdout);
      assert.include(text.stdout, `answer: ${printed![1]}`);
      assert.include(text.stdout, "models policy scripted-v1, ppm const-v1");
    } finally {
      await sys.stop();
      await bus.close();
    }
  });

  it("fails at once, naming the subject, when no system of that run is listening", async () => {
    const run = uniqueRun("none");
    let err: unknown;
    await solveOverNats("What is 2 + 2?", { url: NATS, run, timeoutMs: 10_000 }).catch((e) => (err = e));
    assert.instanceOf(err, Error);
    assert.match((err as Error).message, new RegExp(`nothing answers rstar\\.${run}\\.control\\.solve`));
    assert.strictEqual(await main(["solve", "--nats", NATS, "--run", run, "What is 2 + 2?"]), 1);
  });

  it("gives up after --timeout-ms when the system does not answer", async () => {
    const run = uniqueRun("slow");
    const bus = await connectNatsBus(NATS, { log: () => {} });
    // A responder that takes the request and never replies.
    const sub = bus.subscribe(runSubjects(run).control("solve"), () => {});
    try {
      await bus.flush();
      let err: unknown;
      await solveOverNats("What is 2 + 2?", { url: NATS, run, timeoutMs: 300 }).catch((e) => (err = e));
      assert.match(String(err), new RegExp(`run ${run} did not answer within 300 ms`));
    } finally {
      sub.unsubscribe();
      await bus.close();
    }
  });

  it("refuses a bad --nats URL or run name with a usage error before connecting", async () => {
    assert.strictEqual(await main(["solve", "--nats", "localhost:4222", "What is 2 + 2?"]), 2);
    assert.strictEqual(await main(["solve", "--nats", NATS, "--run", "/", "What is 2 + 2?"]), 2);
  });
});

describe("rstar solve notes", () => {
  it("say when the text has no digits, and when it is longer than the policy reads, and nothing otherwise", async () => {
    await initBackend();
    const short = "Ann has 3 apples and buys 4 more. How many apples does she have?";
    const long = Array.from({ length: 60 }, (_, i) => `Ann buys ${i + 2} pens.`).join(" ") + " How many pens does she have?";
    const policy = TinyPolicy.create(PRESETS.smoke, Tokenizer.build([short, long]), 1);
    try {
      assert.deepEqual(solveNotes(short, policy), []);
      assert.deepEqual(solveNotes("Ann has three apples and buys four more."), [
        "the problem has no numbers written as digits; the models only read digits, so this is a best effort",
      ]);
      const [note] = solveNotes(long, policy);
      assert.match(note!, /^the problem is \d+ tokens long and the policy reads at most 144 \(problem and steps\), so it reads only the end of it$/);
    } finally {
      policy.dispose();
    }
  });
});
