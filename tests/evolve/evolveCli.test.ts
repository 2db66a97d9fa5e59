import { assert, describe, it } from "vitest";
import { join } from "node:path";
import { resolveConfig } from "../../scripts/run/config.ts";
import { createRunDirectory, pathExists } from "../../scripts/run/runDirectory.ts";
import { trainStateFromBytes } from "../../models/trainState.ts";

const deno = join(Deno.cwd(), "node_modules", ".bin", "deno");
const env = { DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.cwd(), ".cache", "deno") };

function rstar(args: string[]): Deno.ChildProcess {
  return new Deno.Command(deno, {
    args: ["run", "-A", "--quiet", "scripts/rstar.ts", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await rstar(args).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

interface Event {
  type: string;
  round?: number;
  phase?: string;
  problemId?: string;
  strategy?: string;
}

function ledger(dir: string): Event[] {
  try {
    const text = Deno.readTextFileSync(join(dir, "ledger.jsonl"));
    const lines = text.split("\n");
    lines.pop(); // an unfinished last line is not an event yet
    return lines.map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

/**
 * Starts `rstar evolve`, sends it `signal` as soon as `when(events)` holds, and waits for it to
 * exit; returns the ledger's events then, its exit code and what it printed on stderr.
 */
async function signalWhen(
  args: string[],
  dir: string,
  when: (events: Event[]) => boolean,
  signal: Deno.Signal,
): Promise<{ events: Event[]; code: number; stderr: string }> {
  const child = rstar(args);
  let sent = false;
  let finished = false;
  const output = child.output();
  output.then(() => (finished = true), () => (finished = true));
  while (!finished) {
    if (when(ledger(dir))) {
      child.kill(signal);
      sent = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const out = await output;
  assert.isTrue(sent, `the run finished before the phase to send ${signal} in was reached`);
  return { events: ledger(dir), code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Starts `rstar evolve`, SIGKILLs it as soon as `when(events)` holds; returns the events then. */
async function killWhen(args: string[], dir: string, when: (events: Event[]) => boolean): Promise<Event[]> {
  return (await signalWhen(args, dir, when, "SIGKILL")).events;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Every round's policy and PPM checkpoints in `dir` equal `reference`'s byte for byte. */
function assertSameModels(dir: string, reference: string, rounds: number, what: string): void {
  for (let round = 1; round <= rounds; round++) {
    for (const model of ["policy", "ppm"]) {
      const file = (root: string) => Deno.readFileSync(join(root, "checkpoints", `round-${round}`, model, "model.safetensors"));
      assert.isTrue(equalBytes(file(dir), file(reference)), `round ${round} ${model} weights differ from the ${what}'s`);
    }
  }
}

function assertComplete(dir: string, rounds: number, perRound: number): void {
  const summary = JSON.parse(Deno.readTextFileSync(join(dir, "summary.json")));
  assert.equal(summary.lost, 0);
  assert.isTrue(summary.finished);
  assert.equal(summary.rounds.length, rounds);
  for (const r of summary.rounds) {
    assert.isTrue(r.complete);
    assert.equal(r.train.problems, perRound);
    assert.isAbove(r.trainSteps.policy, 0, `round ${r.round} records the policy's optimiser steps`);
    assert.deepEqual(Object.keys(r.evaluation).sort(), ["bon-ppm", "bon-vote", "greedy", "mcts"]);
  }
  // The raw ledger holds every (round, phase, problem), training and evaluation exactly once.
  const seen = new Set<string>();
  for (const e of ledger(dir)) {
    let key: string | undefined;
    if (e.type === "problem-searched") key = `s:${e.round}:${e.phase}:${e.problemId}`;
    if (e.type === "round-trained") key = `t:${e.round}`;
    if (e.type === "evaluation-done") key = `e:${e.round}:${e.strategy}`;
    if (e.type === "problem-evaluated") key = `p:${e.round}:${e.strategy}:${e.problemId}`;
    if (key === undefined) continue;
    assert.isFalse(seen.has(key), `recorded twice: ${key}`);
    seen.add(key);
  }
  // Every evaluation is recorded problem by problem, every test problem once.
  for (const r of summary.rounds) {
    for (const [strategy, ev] of Object.entries(r.evaluation as Record<string, { byLevel: Record<string, { n: number }> }>)) {
      const n = Object.values(ev.byLevel).reduce((a, l) => a + l.n, 0);
      assert.equal([...seen].filter((k) => k.startsWith(`p:${r.round}:${strategy}:`)).length, n, `round ${r.round} ${strategy}`);
    }
  }
}

describe("rstar evolve --preset smoke", () => {
  it("completes, writes summary and report, and --resume on the finished run only prints the table", async () => {
    const dir = join(Deno.makeTempDirSync(), "run");
    const r = await run(["evolve", "--preset", "smoke", "--run", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /round\s+solve%/);
    assertComplete(dir, 3, 10);
    assert.include(Deno.readTextFileSync(join(dir, "report.html")), "<svg");
    // The smoke preset grades against the problems' variants: no pick is right by a coincidence.
    const picks = ledger(dir).flatMap((e) => (e as { sft?: { matchesReference?: boolean }[] }).sft ?? []);
    assert.isAbove(picks.length, 0);
    assert.deepEqual(picks.filter((x) => x.matchesReference === false), []);
    // rstar eval reproduces the run's own evaluation of every strategy.
    const ev = await run(["eval", "--run", dir, "--json"]);
    assert.equal(ev.code, 0, ev.stderr);
    const lines = ev.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const summary = JSON.parse(Deno.readTextFileSync(join(dir, "summary.json")));
    assert.deepEqual(lines.map((l) => l.strategy).sort(), ["bon-ppm", "bon-vote", "greedy", "mcts"]);
    for (const line of lines) {
      assert.equal(line.round, 3);
      const own = summary.rounds[2].evaluation[line.strategy];
      assert.deepEqual([line.accuracy, line.samples], [own.accuracy, own.samples], line.strategy);
    }
    const sv = await run(["solve", "Ann has 3 apples and buys 4 more. How many apples does she have?", "--run", dir, "--json"]);
    assert.equal(sv.code, 0, sv.stderr);
    const solved = JSON.parse(sv.stdout.trim());
    assert.isAbove(solved.tree.nodes, 1);
    // A JSON reader finds the answer key whether or not a rollout printed one.
    assert.isTrue(solved.answer === null || typeof solved.answer === "string", sv.stdout);
    assert.equal(solved.models.round, 3);
    const before = ledger(dir).length;
    const again = await run(["evolve", "--resume", "--run", dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /round\s+solve%/);
    assert.equal(ledger(dir).length, before);
    // Killed after its last round but before the run's end was recorded: status says how to go on.
    const ledgerLines = Deno.readTextFileSync(join(dir, "ledger.jsonl")).trimEnd().split("\n");
    assert.equal(JSON.parse(ledgerLines.at(-1)!).type, "run-finished");
    Deno.writeTextFileSync(join(dir, "ledger.jsonl"), ledgerLines.slice(0, -1).join("\n") + "\n");
    const st = await run(["status", "--run", dir]);
    assert.equal(st.code, 0, st.stderr);
    assert.include(st.stdout, "not finished");
    assert.include(st.stdout, `continue with: rstar evolve --resume --run ${dir}`);
  }, 240_000);

  it("SIGKILLed during search, training and evaluation (between strategies and within one), it resumes each time to a complete, duplicate-free summary with the uninterrupted run's models and results", async () => {
    const dir = join(Deno.makeTempDirSync(), "run");
    const whole = join(Deno.makeTempDirSync(), "run");
    // 40 test problems: an evaluation runs 16 at a time, so a kill can land inside one.
    const args = ["evolve", "--preset", "smoke", "--set", "test.problems=40"];
    const plain = await run([...args, "--run", whole]);
    assert.equal(plain.code, 0, plain.stderr);
    const last = (events: Event[]) => events[events.length - 1];
    // 1. During the search of round 1.
    let events = await killWhen([...args, "--run", dir], dir, (es) =>
      es.filter((e) => e.type === "problem-searched").length >= 3);
    assert.notInclude(events.map((e) => e.type), "data-persisted");
    // 2. During training (round data persisted, checkpoints not yet recorded).
    events = await killWhen(["evolve", "--resume", "--run", dir], dir, (es) =>
      last(es)?.type === "data-persisted");
    assert.equal(last(events)?.type, "data-persisted");
    // 3. During evaluation, between two strategies.
    events = await killWhen(["evolve", "--resume", "--run", dir], dir, (es) =>
      last(es)?.type === "evaluation-done");
    assert.equal(last(events)?.type, "evaluation-done");
    // 4. Part-way through one strategy's evaluation.
    const recorded = (es: Event[], e: Event | undefined, type: string) =>
      es.filter((x) => x.type === type && x.round === e?.round && x.strategy === e?.strategy).length;
    events = await killWhen(["evolve", "--resume", "--run", dir], dir, (es) =>
      last(es)?.type === "problem-evaluated" && last(es)?.strategy === "bon-vote" && recorded(es, last(es), "problem-evaluated") >= 2);
    const cut = events.findLast((e) => e.type === "problem-evaluated");
    assert.equal(recorded(events, cut, "evaluation-done"), 0, "the kill landed after the strategy's evaluation ended");
    const r = await run(["evolve", "--resume", "--run", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.include(r.stderr, `round ${cut!.round} eval bon-vote: resuming, ${recorded(events, cut, "problem-evaluated")} of 40 test problems recorded`);
    assertComplete(dir, 3, 10);
    const summary = JSON.parse(Deno.readTextFileSync(join(dir, "summary.json")));
    assert.equal(summary.faults.resumes, 4);
    // Three crashes change nothing: the same seed trains the same weights and gets the same figures.
    const reference = JSON.parse(Deno.readTextFileSync(join(whole, "summary.json")));
    const figures = (s: typeof summary) =>
      s.rounds.map((r: Record<string, unknown>) => {
        const { wallMs: _w, evaluation, ...rest } = r as { wallMs: unknown; evaluation: Record<string, Record<string, unknown>> };
        return { ...rest, evaluation: Object.fromEntries(Object.entries(evaluation).map(([k, v]) => [k, { ...v, wallMs: 0 }])) };
      });
    assert.deepEqual(figures(summary), figures(reference));
    assertSameModels(dir, whole, 3, "uninterrupted run");
  }, 420_000);

  it("SIGKILLed part-way through training, --resume continues training from its last saved step to the uninterrupted run's models", async () => {
    const args = [
      "--preset", "smoke", "--rounds", "1", "--set", "sft.batchSize=2", "--set", "sft.firstRoundEpochs=10",
      "--set", "trainStateSeconds=0",
    ];
    const whole = join(Deno.makeTempDirSync(), "run");
    const plain = await run(["evolve", ...args, "--run", whole]);
    assert.equal(plain.code, 0, plain.stderr);
    const dir = join(Deno.makeTempDirSync(), "run");
    const state = join(dir, "checkpoints", "round-1", "policy-training.safetensors");
    const savedStep = () => {
      try {
        return trainStateFromBytes(Deno.readFileSync(state), state).step;
      } catch {
        return 0; // not written yet (a file is renamed into place whole, so it is never half-written)
      }
    };
    await killWhen(["evolve", ...args, "--run", dir], dir, () => savedStep() >= 20);
    const killedAt = savedStep();
    const total = JSON.parse(Deno.readTextFileSync(join(whole, "summary.json"))).rounds[0].trainSteps.policy;
    assert.isBelow(killedAt, total, "the run was killed before its training ended");
    // `rstar status` reads where the killed run stands without touching it.
    const ledgerBefore = Deno.readFileSync(join(dir, "ledger.jsonl"));
    const st = await run(["status", "--run", dir, "--json"]);
    assert.isTrue(equalBytes(Deno.readFileSync(join(dir, "ledger.jsonl")), ledgerBefore), "status left the ledger as it was");
    assert.isFalse(pathExists(join(dir, "summary.json")), "status writes no summary");
    assert.equal(st.code, 0, st.stderr);
    const status = JSON.parse(st.stdout);
    assert.isFalse(status.finished);
    assert.notProperty(status, "running", "the killed process's lock names no live process");
    assert.equal(status.current.round, 1);
    assert.deepEqual(status.current.search, { recorded: 10, problems: 10 });
    assert.isFalse(status.current.training.done);
    assert.deepEqual([status.current.training.sft.step, status.current.training.sft.total], [killedAt, total]);
    assert.deepEqual(status.current.evaluation.greedy, { recorded: 0, problems: 10, done: false });
    const human = await run(["status", "--run", dir]);
    assert.include(human.stdout, `training: SFT saved at step ${killedAt}/${total}`);
    assert.include(human.stdout, `continue with: rstar evolve --resume --run ${dir}`);
    const r = await run(["evolve", "--resume", "--run", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`round 1 SFT: resuming at step (\\d+)/${total}`));
    const resumedAt = Number(/resuming at step (\d+)\//.exec(r.stderr)![1]);
    assert.isAtLeast(resumedAt, killedAt);
    assert.match(r.stderr, new RegExp(`round 1 SFT: done ${total - resumedAt}/${total - resumedAt}`));
    assertComplete(dir, 1, 10);
    assertSameModels(dir, whole, 1, "uninterrupted run");
    for (const model of ["policy", "ppm"]) {
      assert.isFalse(pathExists(join(dir, "checkpoints", "round-1", `${model}-training.safetensors`)), "training states are removed");
    }
    const after = JSON.parse((await run(["status", "--run", dir, "--json"])).stdout);
    assert.isTrue(after.finished);
    assert.notProperty(after, "current");
    const trained = (root: string) => ledger(root).find((e) => e.type === "round-trained") as unknown as Record<string, unknown>;
    assert.deepEqual(trained(dir).losses, trained(whole).losses);
    assert.deepEqual(trained(dir).steps, trained(whole).steps);
  }, 240_000);

  it("Ctrl-C while the policy trains saves the training state first, and --resume continues from that step to the uninterrupted run's models", async () => {
    const args = [
      "--preset", "smoke", "--rounds", "1", "--set", "sft.batchSize=2", "--set", "sft.firstRoundEpochs=40",
      "--set", "trainStateSeconds=3600",
    ];
    const whole = join(Deno.makeTempDirSync(), "run");
    const plain = await run(["evolve", ...args, "--run", whole]);
    assert.equal(plain.code, 0, plain.stderr);
    const dir = join(Deno.makeTempDirSync(), "run");
    const child = rstar(["evolve", ...args, "--run", dir]);
    const stdout = child.stdout.pipeTo(new WritableStream());
    // Read stderr until training has started, send SIGINT a moment later, then read the rest.
    let err = "";
    const dec = new TextDecoder();
    let sent = false;
    for await (const chunk of child.stderr) {
      err += dec.decode(chunk, { stream: true });
      if (!sent && err.includes("round 1 SFT: start")) {
        sent = true;
        setTimeout(() => child.kill("SIGINT"), 300);
      }
    }
    const { code } = await child.status;
    await stdout;
    assert.isTrue(sent, err);
    assert.equal(code, 130, err);
    const saved = /round 1 SFT: state saved at step (\d+)\/(\d+)/.exec(err);
    assert.isNotNull(saved, err);
    const [step, total] = [Number(saved![1]), Number(saved![2])];
    assert.isAbove(step, 0);
    assert.isBelow(step, total, "SIGINT came after training ended; lengthen training");
    const r = await run(["evolve", "--resume", "--run", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.include(r.stderr, `round 1 SFT: resuming at step ${step}/${total}`);
    assertSameModels(dir, whole, 1, "uninterrupted run");
  }, 240_000);

  it("Ctrl-C (SIGINT) stops the run with exit 130 and a line saying how to resume, and --resume completes it with nothing lost", async () => {
    const dir = join(Deno.makeTempDirSync(), "run");
    const stopped = await signalWhen(["evolve", "--preset", "smoke", "--run", dir], dir, (es) =>
      es.some((e) => e.type === "round-trained"), "SIGINT");
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.include(stopped.stderr, `interrupted (SIGINT): finished work is in ${dir}; continue with: rstar evolve --resume --run ${dir}`);
    assert.notInclude(stopped.events.map((e) => e.type), "run-finished");
    assert.isFalse(pathExists(join(dir, "run.lock")), "the stopped run releases its lock");
    const r = await run(["evolve", "--resume", "--run", dir]);
    assert.equal(r.code, 0, r.stderr);
    assertComplete(dir, 3, 10);
  }, 240_000);

  it("expander crashes in a fifth of its batches cost retries, not records; crashes in every batch stop the run with one line saying how to resume, and a resume without them completes it", async () => {
    const records = (dir: string) =>
      ledger(dir).filter((e) => e.type === "problem-searched").map((e) => JSON.stringify({ ...e, wallMs: 0 })).sort();
    const args = ["evolve", "--preset", "smoke", "--rounds", "2", "--set", "eval.strategies="];
    const plain = join(Deno.makeTempDirSync(), "run");
    assert.equal((await run([...args, "--run", plain])).code, 0);
    const flaky = join(Deno.makeTempDirSync(), "run");
    const r = await run([...args, "--chaos", "crash=expander:0.2", "--run", flaky]);
    assert.equal(r.code, 0, r.stderr);
    assert.isAbove(JSON.parse(Deno.readTextFileSync(join(flaky, "summary.json"))).faults.injected.crashes, 3);
    assert.deepEqual(records(flaky), records(plain));
    const broken = join(Deno.makeTempDirSync(), "run");
    const failed = await run([...args, "--chaos", "crash=expander:1", "--run", broken]);
    assert.equal(failed.code, 1, failed.stderr);
    const [reason, hint] = failed.stderr.trim().split("\n").slice(-2);
    assert.match(reason!, /^rstar: Search failed on problem \S+: Cannot keep expander-0 running: gave up after 8 restarts: last failure: Injected crash in expander/);
    assert.equal(hint, `finished work is in ${broken}; continue with: rstar evolve --resume --run ${broken}`);
    const resumed = await run(["evolve", "--resume", "--chaos", "", "--run", broken]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(records(broken), records(plain));
  }, 240_000);

  it("a second evolve on a run directory that a live process runs exits 1 naming that process, and changes nothing", async () => {
    const dir = join(Deno.makeTempDirSync(), "run");
    // Round 1 trains long enough (thousands of smoke steps) for two more processes to start meanwhile.
    const first = rstar(["evolve", "--preset", "smoke", "--rounds", "1", "--run", dir, "--set", "sft.batchSize=2", "--set", "sft.firstRoundEpochs=300"]);
    while (!ledger(dir).some((e) => e.type === "data-persisted")) await new Promise((r) => setTimeout(r, 50));
    const before = Deno.readTextFileSync(join(dir, "ledger.jsonl"));
    const second = await run(["evolve", "--resume", "--run", dir]);
    assert.equal(second.code, 1, second.stderr);
    assert.include(second.stderr, `Cannot run ${dir}: process ${first.pid} on ${Deno.hostname()} has been running it since`);
    assert.isTrue(Deno.readTextFileSync(join(dir, "ledger.jsonl")).startsWith(before), "the second process wrote nothing");
    const st = await run(["status", "--run", dir]);
    assert.include(st.stdout, `; running in process ${first.pid} on ${Deno.hostname()} since`);
    assert.notInclude(st.stdout, "continue with:");
    const out = await first.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assertComplete(dir, 1, 10);
    assert.isFalse(pathExists(join(dir, "run.lock")), "the lock goes with the run");
  }, 240_000);

  it("SIGKILLed while round 1 searches in two lanes, it resumes to the records and models of a one-lane run", async () => {
    const args = ["--preset", "smoke", "--rounds", "1", "--set", "train.problemsPerRound=120", "--set", "eval.strategies=greedy"];
    const oneLane = join(Deno.makeTempDirSync(), "run");
    const plain = await run(["evolve", ...args, "--set", "generateThreads=1", "--run", oneLane]);
    assert.equal(plain.code, 0, plain.stderr);
    const dir = join(Deno.makeTempDirSync(), "run");
    const events = await killWhen(["evolve", ...args, "--set", "generateThreads=2", "--run", dir], dir, (es) =>
      es.filter((e) => e.type === "problem-searched").length >= 10);
    assert.notInclude(events.map((e) => e.type), "data-persisted");
    const r = await run(["evolve", "--resume", "--run", dir]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(Deno.readTextFileSync(join(dir, "summary.json")));
    assert.equal(summary.lost, 0);
    assert.equal(summary.rounds[0].train.problems, 120);
    // The same records, problem by problem (the lanes only change their order), and the same weights.
    const records = (root: string) =>
      Object.fromEntries(
        (ledger(root) as (Event & { wallMs?: number })[]).filter((e) => e.type === "problem-searched").map((e) => {
          const { wallMs: _w, ...rest } = e;
          return [`${e.phase}:${e.problemId}`, rest];
        }),
      );
    assert.deepEqual(records(dir), records(oneLane));
    assertSameModels(dir, oneLane, 1, "one-lane run");
  }, 240_000);
});

describe("rstar evolve / eval / solve command lines", () => {
  it("bad flags exit 2 with a one-line reason", async () => {
    for (
      const args of [
        ["evolve", "--preset", "huge"],
        ["evolve", "--rounds", "0"],
        ["evolve", "--policy", "openai"],
        ["evolve", "--resume"],
        ["eval", "--run", "x", "--strategy", "magic"],
      ]
    ) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });

  it("a new run that cannot start (NATS unreachable) leaves no run behind, so the same command works once the cause is fixed", async () => {
    const dir = join(Deno.makeTempDirSync(), "run");
    const args = ["evolve", "--preset", "smoke", "--rounds", "1", "--run", dir];
    const failed = await run([...args, "--nats", "nats://127.0.0.1:1"]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.include(failed.stderr, "Cannot connect to NATS at nats://127.0.0.1:1");
    assert.isFalse(pathExists(dir), "the run directory it created is gone");
    const deep = join(dir, "a", "b");
    assert.equal((await run([...args.slice(0, -1), deep, "--nats", "nats://127.0.0.1:1"])).code, 1);
    assert.isFalse(pathExists(dir), "and so are the parents it created");
    // A folder that was there before stays, empty.
    Deno.mkdirSync(dir);
    assert.equal((await run([...args, "--nats", "nats://127.0.0.1:1"])).code, 1);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    const ok = await run(args);
    assert.equal(ok.code, 0, ok.stderr);
    assertComplete(dir, 1, 10);
  }, 120_000);

  it("a --dataset or --test file with a bad line, a repeated id or no problems is a one-line error naming it, and no run is made", async () => {
    const tmp = Deno.makeTempDirSync();
    const line = (id: string, answer: number) => JSON.stringify({ id, problem: `What is ${answer} + 0?`, answer: String(answer) });
    const cases: [string, string, string][] = [
      ["dup.jsonl", [line("p1", 1), line("p2", 2), line("p1", 3)].join("\n"), `line 3: id "p1" is already the id of line 1`],
      ["bad.jsonl", [line("p1", 1), "{not json"].join("\n"), "line 2: invalid JSON"],
      ["empty.jsonl", "\n", "holds no problems"],
    ];
    for (const [name, text, why] of cases) {
      const file = join(tmp, name);
      Deno.writeTextFileSync(file, text);
      for (const flag of ["--dataset", "--test"]) {
        const dir = join(tmp, "run");
        const r = await run(["evolve", "--preset", "smoke", flag, file, "--run", dir]);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.include(r.stderr, `rstar: ${flag}: `);
        assert.include(r.stderr, file);
        assert.include(r.stderr, why);
        assert.isFalse(pathExists(dir), `${flag} ${name} made no run`);
      }
    }
  });

  it("evolve --resume refuses the flags that make a new run's config, naming them", async () => {
    const r = await run(["evolve", "--resume", "--run", "x", "--rounds", "5", "--seed", "9", "--preset", "full"]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), "error: --preset, --rounds, --seed apply to a new run; a resumed run keeps its config.json");
  });

  it("a run is made only in a new or empty folder, and a file given as a run directory is a clear error", async () => {
    const dir = Deno.makeTempDirSync();
    Deno.writeTextFileSync(join(dir, "notes.txt"), "mine");
    const r = await run(["evolve", "--preset", "smoke", "--run", dir]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim(), `rstar: Cannot create run directory ${dir}: it holds other files (a run goes in a new or empty folder)`);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["notes.txt"]);
    const file = join(dir, "notes.txt");
    for (const args of [["evolve", "--run", file], ["evolve", "--resume", "--run", file], ["status", "--run", file], ["eval", "--run", file], ["solve", "2 plus 3", "--run", file]]) {
      const f = await run(args);
      assert.equal(f.code, 1, `${args.join(" ")}: ${f.stderr}`);
      assert.match(f.stderr.trim(), new RegExp(`^rstar: Cannot (create|open) run directory ${file}: it is a file`), f.stderr);
    }
  });

  it("a missing run directory is a clear error with exit 1", async () => {
    const missing = join(Deno.makeTempDirSync(), "nope");
    for (const args of [["eval", "--run", missing], ["solve", "2 plus 3", "--run", missing], ["evolve", "--resume", "--run", missing], ["status", "--run", missing]]) {
      const r = await run(args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.include(r.stderr, "does not exist");
    }
  });

  it("a run whose config.json was edited into an unusable setting is refused by evolve --resume, eval and solve, naming the file and the setting", async () => {
    const dir = join(Deno.makeTempDirSync(), "edited");
    const config = resolveConfig("smoke");
    createRunDirectory(dir, 1, { ...config, eval: { ...config.eval, samples: 0 } });
    for (const args of [["evolve", "--resume", "--run", dir], ["eval", "--run", dir], ["solve", "2 plus 3", "--run", dir]]) {
      const r = await run(args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.include(r.stderr, join(dir, "config.json"));
      assert.include(r.stderr, "eval.samples=0: expected a whole number of samples, at least 1");
    }
  });
});
