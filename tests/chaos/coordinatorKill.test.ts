/**
 * Reliability: `rstar evolve --preset smoke` SIGKILLed at seeded random moments (4 kills, each
 * once the ledger holds a drawn number of events, plus a drawn 0–250 ms), resumed with `--resume`
 * after each. The last resume finishes with nothing lost, every (round, phase, problem) recorded
 * exactly once, and the same records as an uninterrupted run with the same seed. Set
 * `RSTAR_KILL_SEED` to try other kill moments; the seed and the moments are printed.
 */
import { assert, describe, it } from "vitest";
import { join } from "node:path";
import { Prng } from "../../math/prng.ts";
import { type LedgerEvent, readLedger } from "../../scripts/run/ledger.ts";

const deno = join(Deno.cwd(), "node_modules", ".bin", "deno");
const env = { DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.cwd(), ".cache", "deno") };
const KILL_SEED = Number(Deno.env.get("RSTAR_KILL_SEED") ?? 20251126);
const KILLS = 4;
const RUN_SEED = 7;

function evolve(args: string[]): Deno.ChildProcess {
  return new Deno.Command(deno, {
    args: ["run", "-A", "--quiet", "scripts/rstar.ts", "evolve", ...args],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** Complete lines in the ledger now (a torn last line does not count). */
function ledgerLines(dir: string): number {
  try {
    const text = Deno.readTextFileSync(join(dir, "ledger.jsonl"));
    return text.split("\n").length - 1;
  } catch {
    return 0;
  }
}

function events(dir: string): LedgerEvent[] {
  const read = readLedger(join(dir, "ledger.jsonl"));
  if (read._tag !== "LedgerRead") throw new Error(read.message);
  return read.events;
}

/** Where a kill landed: the ledger lines when it was sent, or undefined if the run ended first. */
interface Kill {
  readonly atEvents: number;
  readonly delayMs: number;
  readonly landedAt?: number;
}

/**
 * Starts `evolve args`, and once the ledger holds `atEvents` lines (and at least one more than at
 * the start, so each attempt writes its `run-started`) waits `delayMs` and SIGKILLs it.
 */
async function killAt(args: string[], dir: string, atEvents: number, delayMs: number): Promise<Kill> {
  const start = ledgerLines(dir);
  const child = evolve(args);
  const stderr = new Response(child.stderr).text();
  let exited = false;
  void child.status.then(() => (exited = true));
  while (!exited && ledgerLines(dir) < Math.max(atEvents, start + 1)) await new Promise((r) => setTimeout(r, 10));
  if (!exited) await new Promise((r) => setTimeout(r, delayMs));
  let landedAt: number | undefined;
  if (!exited) {
    landedAt = ledgerLines(dir);
    child.kill("SIGKILL");
  }
  const status = await child.status;
  const text = await stderr;
  if (landedAt === undefined) assert.equal(status.code, 0, `an attempt that was not killed succeeds: ${text.slice(-1500)}`);
  return { atEvents, delayMs, ...(landedAt !== undefined ? { landedAt } : {}) };
}

/** Each record keyed by what it is about, without wall times; fails on a key recorded twice. */
function records(dir: string): Map<string, string> {
  // Paths inside the run directory (data files, checkpoints) are compared relative to it.
  const out = new Map<string, string>();
  for (const e of events(dir)) {
    let key: string | undefined;
    if (e.type === "problem-searched") key = `search ${e.round}:${e.phase}:${e.problemId}`;
    else if (e.type === "round-trained") key = `trained ${e.round}`;
    else if (e.type === "evaluation-done") key = `eval ${e.round}:${e.strategy}`;
    else if (e.type === "problem-evaluated") key = `evaluated ${e.round}:${e.strategy}:${e.problemId}`;
    else if (e.type === "data-persisted") key = `data ${e.round}`;
    else if (e.type === "round-finished") key = `finished ${e.round}`;
    if (key === undefined) continue;
    assert.isFalse(out.has(key), `recorded more than once: ${key}`);
    const { wallMs: _, elapsedMs: _e, ...rest } = e as LedgerEvent & { wallMs?: number; elapsedMs?: number };
    out.set(key, JSON.stringify(rest).replaceAll(dir, "<run>"));
  }
  return out;
}

function summaryOf(dir: string) {
  return JSON.parse(Deno.readTextFileSync(join(dir, "summary.json")));
}

describe("rstar evolve SIGKILLed at random moments", () => {
  it(`resumes after each of ${KILLS} seeded kills (seed ${KILL_SEED}) to the uninterrupted run's records, none lost or doubled`, async () => {
    const root = await Deno.makeTempDir({ prefix: "rstar-kill-" });
    try {
      const reference = join(root, "reference");
      const killed = join(root, "killed");
      const first = ["--preset", "smoke", "--seed", String(RUN_SEED)];
      const ref = await evolve([...first, "--run", reference]).output();
      assert.equal(ref.code, 0, new TextDecoder().decode(ref.stderr).slice(-1500));
      const total = ledgerLines(reference);

      // Kill moments: one ledger event count drawn in each of KILLS equal stretches of the run
      // (so the kills spread over search, training and evaluation), each plus a drawn delay.
      const rng = Prng.fromSeed(KILL_SEED);
      // The last stretch ends well before the run does: a kill drawn there still lands mid-run.
      const span = (total - 20) / KILLS;
      const plan = Array.from({ length: KILLS }, (_, i) => ({
        atEvents: rng.range(Math.floor(i * span) + 1, Math.floor((i + 1) * span)),
        delayMs: rng.int(250),
      }));

      const kills: Kill[] = [];
      for (const [i, p] of plan.entries()) {
        const args = i === 0 ? [...first, "--run", killed] : ["--resume", "--run", killed];
        kills.push(await killAt(args, killed, p.atEvents, p.delayMs));
      }
      const landed = kills.filter((k) => k.landedAt !== undefined).length;
      console.log(
        `kill seed ${KILL_SEED}: ${kills.map((k) => `after event ${k.atEvents} + ${k.delayMs} ms -> ${k.landedAt === undefined ? "run had ended" : `killed at ${k.landedAt} events`}`).join("; ")} (uninterrupted run: ${total} events)`,
      );
      assert.isAtLeast(landed, 3, "at least 3 kills landed while the run was going");

      const last = await evolve(["--resume", "--run", killed]).output();
      assert.equal(last.code, 0, new TextDecoder().decode(last.stderr).slice(-1500));
      const s = summaryOf(killed);
      assert.isTrue(s.finished);
      assert.equal(s.lost, 0);
      assert.equal(s.faults.duplicateRecords, 0);
      assert.equal(s.faults.missingRecords, 0);
      // Each killed attempt was started once and resumed by the next one, unless it had already
      // recorded the run's end (a resume of a finished run only prints its summary).
      const finishedAt = events(killed).findIndex((e) => e.type === "run-finished") + 1;
      assert.equal(s.faults.resumes, kills.filter((k) => k.landedAt !== undefined && k.landedAt < finishedAt).length);
      const want = records(reference);
      const got = records(killed);
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), "the same records as the uninterrupted run");
      for (const [key, record] of want) assert.equal(got.get(key), record, `${key}: the same as without kills`);
      const rounds = (x: { rounds: { train: unknown; evaluation: Record<string, { accuracy: number }> }[] }) =>
        x.rounds.map((r) => ({ train: r.train, accuracy: Object.entries(r.evaluation).map(([k, v]) => `${k} ${v.accuracy}`) }));
      assert.deepEqual(rounds(s), rounds(summaryOf(reference)));
      console.log(`resumes ${s.faults.resumes}, torn tails recovered ${s.faults.tornTails}`);
    } finally {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }, 120_000);
});
