/**
 * The Scorer actor on the bus: serves `rstar.<run>.score` in the `scorers` queue group. It scores
 * items with the StepScorer (PPM/ORM; one batched call per request) and grades terminal answers
 * against references; every reply names the scorer version. Follows `.model` announcements.
 */
import type { StepScorer } from "../math/contracts.ts";
import type { Bus } from "../protocols/bus.ts";
import type { ChildExit } from "./childMachine.ts";
import type { Clock } from "./clock.ts";
import type { CrashInjector } from "./crashInjector.ts";
import type { ExpanderHandle } from "./expander.ts";
import type { Logger } from "./log.ts";
import type { ScoreReply } from "./wire.ts";
import { checkModelAnnouncement, checkScoreRequest, decode, isBad, serve, subjects } from "./wire.ts";

/** Grades an answer against a reference (math's `answersEqual`). */
export type Grader = (answer: string, reference: string) => boolean;

/** What a Scorer needs. */
export interface ScorerOptions {
  readonly bus: Bus;
  readonly run: string;
  readonly id: string;
  /** The scorer to start with; undefined serves grading only (round 1 has no PPM). */
  readonly scorer: StepScorer | undefined;
  readonly loadScorer: (version: string) => Promise<StepScorer>;
  readonly grade: Grader;
  readonly log: Logger;
  readonly clock: Clock;
  readonly crash: CrashInjector;
}

/** Starts a Scorer on the bus; the handle's `policyVersion` reports the scorer version. */
export function startScorer(options: ScorerOptions): Promise<ExpanderHandle> {
  const s = subjects(options.run);
  const log = options.log.child({ actor: "scorer", run: options.run, worker: options.id });
  let scorer = options.scorer;
  let resolveExit!: (exit: ChildExit) => void;
  const exited = new Promise<ChildExit>((r) => (resolveExit = r));
  let lastBeat = options.clock.now();
  const sub = serve(bus(options), s.score, checkScoreRequest, async (req): Promise<ScoreReply> => {
    lastBeat = options.clock.now();
    try {
      options.crash.maybeCrash("scorer");
    } catch (err) {
      stopNow({ error: err });
      throw err;
    }
    const current = scorer;
    if (req.items.length > 0 && current === undefined) throw new Error("No scorer model is loaded");
    const values = req.items.length > 0 && current !== undefined
      ? await current.score(req.items.map((i) => ({ problem: req.problem, steps: i.steps, candidate: i.candidate })))
      : [];
    const grades = req.grades.map((g) => options.grade(g.answer, g.reference));
    return { id: req.id, values, grades, scorerVersion: current?.version ?? "none", worker: options.id };
  }, { queue: "scorers", deadLetter: s.deadLetter });
  const modelSub = options.bus.subscribe(s.model, async (msg) => {
    const ann = decode(msg.data, checkModelAnnouncement);
    if (isBad(ann) || ann.role !== "scorer" || ann.version === scorer?.version) return;
    try {
      scorer = await options.loadScorer(ann.version);
      log.info("Scorer swapped model", { version: ann.version });
    } catch (err) {
      log.warn(`Cannot load scorer version ${ann.version}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  let done = false;
  function stopNow(exit: ChildExit) {
    if (done) return;
    done = true;
    sub.unsubscribe();
    modelSub.unsubscribe();
    resolveExit(exit);
  }
  return Promise.resolve({
    exited,
    lastHeartbeat: () => lastBeat,
    policyVersion: () => scorer?.version ?? "none",
    stop: async () => {
      await sub.drain().catch(() => {});
      stopNow({});
    },
  });
}

function bus(options: ScorerOptions): Bus {
  return options.bus;
}
