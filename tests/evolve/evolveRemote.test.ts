/**
 * `rstar evolve --policy openai`: a remote policy cannot be trained here, so each round exports
 * its training data and the run stops with instructions; `--resume --policy-url` with the newly
 * served model evaluates that round and goes on. Driven against a local OpenAI-compatible server.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest";
import { join } from "node:path";
import { createRunDirectory } from "../../scripts/run/runDirectory.ts";
import { resolveConfig } from "../../scripts/run/config.ts";
import { type FakeModelServer, startFakeModelServer } from "../helpers/fakeModelServer.ts";

const deno = join(Deno.cwd(), "node_modules", ".bin", "deno");
const env = { DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.cwd(), ".cache", "deno") };

/** A "model" that adds the two numbers of an addition problem in one printed step. */
function complete(prompt: string): string {
  const problem = /Problem: (.*)\n/.exec(prompt)?.[1] ?? "";
  const [a, b] = (problem.match(/\d+/g) ?? ["0", "0"]).map(Number);
  return `# add ${a} and ${b} and print the answer\nprint(${a} + ${b})\n`;
}

/** `n` addition problems as dataset lines, numbered from `seed`. */
function additions(n: number, seed: number): string {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ problem: `What is ${seed + i} plus ${2 * i + 1}?`, answer: String(seed + 3 * i + 1) }))
    .join("\n") + "\n";
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function rstar(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(deno, {
    args: ["run", "-A", "--quiet", "scripts/rstar.ts", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout), stderr: new TextDecoder().decode(out.stderr) };
}

describe("rstar evolve --policy openai", () => {
  let server: FakeModelServer;
  let root: string;
  beforeAll(async () => {
    server = await startFakeModelServer({ complete });
    root = await Deno.makeTempDir({ prefix: "rstar-evolve-remote-" });
  });
  afterAll(async () => {
    await server.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  });

  it("exports each round's SFT data and pairs, stops with how to continue, and resumes with the served model", async () => {
    await Deno.writeTextFile(join(root, "train.jsonl"), additions(10, 10));
    await Deno.writeTextFile(join(root, "test.jsonl"), additions(6, 50));
    const run = join(root, "run");
    const common = ["--dataset", join(root, "train.jsonl"), "--test", join(root, "test.jsonl")];

    const first = await rstar([
      "evolve", "--preset", "smoke", "--rounds", "2", "--run", run, ...common,
      "--policy", "openai", "--policy-url", server.url, "--model", "base",
    ]);
    assert.equal(first.code, 0, first.stderr.slice(-2000));
    assert.match(first.stdout, /stopped after round 1/);
    assert.match(first.stdout, /--resume --run .* --policy openai --policy-url NEW_URL --model NAME/);
    const sft = (await Deno.readTextFile(join(run, "round-1", "sft.jsonl"))).trim().split("\n").map((l) => JSON.parse(l));
    assert.isAtLeast(sft.length, 10, "every problem solved by the remote policy gives SFT rows");
    assert.match(sft[0].response, /print\(\d+ \+ \d+\)/);
    await Deno.stat(join(run, "round-1", "ppm_pairs.jsonl"));
    assert.isFalse(await exists(join(run, "summary.json")), "a stopped run has no summary yet");
    const usedModels = new Set(server.requests.map((r) => r.body.model));
    assert.deepEqual([...usedModels], ["base"]);

    // The "fine-tuned" model is served under a new name; resuming records it and goes on.
    const second = await rstar(["evolve", "--resume", "--run", run, "--policy", "openai", "--policy-url", server.url, "--model", "tuned-r1"]);
    assert.equal(second.code, 0, second.stderr.slice(-2000));
    assert.match(second.stdout, /stopped after round 2/);
    const third = await rstar(["evolve", "--resume", "--run", run, "--policy", "openai", "--policy-url", server.url, "--model", "tuned-r2"]);
    assert.equal(third.code, 0, third.stderr.slice(-2000));
    const summary = JSON.parse(await Deno.readTextFile(join(run, "summary.json")));
    assert.equal(summary.lost, 0);
    assert.equal(summary.rounds.length, 2);
    assert.equal(summary.rounds[0].evaluation.greedy.accuracy, 1);
    assert.equal(summary.rounds[0].evaluation.greedy.versions.policy, `openai:tuned-r1@${server.url}`);
    assert.equal(summary.rounds[1].evaluation.greedy.versions.policy, `openai:tuned-r2@${server.url}`);
    assert.includeMembers([...new Set(server.requests.map((r) => r.body.model))], ["base", "tuned-r1", "tuned-r2"]);
  }, 120_000);

  it("a server that does not answer stops the run with one line, and --resume --policy-url moves the run to one that does", async () => {
    await Deno.writeTextFile(join(root, "moved-train.jsonl"), additions(6, 20));
    await Deno.writeTextFile(join(root, "moved-test.jsonl"), additions(4, 70));
    const run = join(root, "moved");
    const dead = "http://127.0.0.1:1";
    const remote = (url: string, model: string) => ["--policy", "openai", "--policy-url", url, "--model", model];
    const oneLine = (r: { code: number; stderr: string }) => {
      assert.equal(r.code, 1, r.stderr);
      const out = r.stderr.trim().split("\n");
      assert.notMatch(r.stderr, /^\s+at /m, "no stack trace");
      assert.include(out.at(-1), `continue with: rstar evolve --resume --run ${run}`);
    };
    // A new run given a wrong URL (one that refuses every request): round 1's search cannot sample it.
    oneLine(await rstar([
      "evolve", "--preset", "smoke", "--rounds", "1", "--run", run, "--dataset", join(root, "moved-train.jsonl"),
      "--test", join(root, "moved-test.jsonl"), ...remote(`${server.url}/wrong`, "base"),
    ]));
    const stopped = await rstar(["evolve", "--resume", "--run", run, ...remote(server.url, "base")]);
    assert.equal(stopped.code, 0, stopped.stderr.slice(-2000));
    assert.match(stopped.stdout, /stopped after round 1/);
    const status = await rstar(["status", "--run", run]);
    assert.include(
      status.stdout,
      `round 1's training data is exported; fine-tune and serve the policy on it, then continue with: rstar evolve --resume --run ${run} --policy openai --policy-url NEW_URL --model NAME`,
    );
    assert.include(status.stdout, "evaluation: greedy 0/4, bon-vote 0/4\n", "a remote policy's run evaluates no PPM strategy");
    // The trained model is named on a server that then does not answer: its evaluation fails.
    oneLine(await rstar(["evolve", "--resume", "--run", run, ...remote(dead, "tuned-r1")]));
    // Served elsewhere now: the run moves there and finishes.
    const done = await rstar(["evolve", "--resume", "--run", run, ...remote(server.url, "tuned-r1")]);
    assert.equal(done.code, 0, done.stderr.slice(-2000));
    assert.include(done.stderr, `round 1's model: now served at ${server.url} (tuned-r1)`);
    const summary = JSON.parse(await Deno.readTextFile(join(run, "summary.json")));
    assert.equal(summary.lost, 0);
    assert.equal(summary.rounds[0].evaluation.greedy.versions.policy, `openai:tuned-r1@${server.url}`);
    assert.equal(summary.rounds[0].evaluation.greedy.accuracy, 1);
    // eval and solve use the model where it is served now; the PPM strategies are not there to run.
    const ev = await rstar(["eval", "--run", run, "--json"]);
    assert.equal(ev.code, 0, ev.stderr);
    const evLines = ev.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(evLines.map((l) => [l.strategy, l.accuracy]), [["greedy", 1], ["bon-vote", summary.rounds[0].evaluation["bon-vote"].accuracy]]);
    const mcts = await rstar(["eval", "--run", run, "--strategy", "mcts"]);
    assert.equal(mcts.code, 1);
    assert.equal(mcts.stderr.trim(), `rstar: Cannot evaluate mcts on ${run}: its policy is remote and the run trains no PPM`);
    const solved = await rstar(["solve", "--run", run, "--json", "What is 20 plus 22?"]);
    assert.equal(solved.code, 0, solved.stderr);
    assert.deepInclude(JSON.parse(solved.stdout), { answer: "42", models: { round: 1, policy: `openai:tuned-r1@${server.url}`, scorer: "" } });
  }, 120_000);

  it("refuses --policy-url on a run that trains its own policy", async () => {
    const run = join(root, "tiny");
    const dir = createRunDirectory(run, 1, resolveConfig("smoke"));
    assert.equal(dir._tag, "RunDirectory");
    const r = await rstar(["evolve", "--resume", "--run", run, "--policy", "openai", "--policy-url", server.url, "--model", "x"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--policy-url applies to runs with --policy openai/);
    assert.equal(server.requests.filter((q) => q.body.model === "x").length, 0);
  });
});
