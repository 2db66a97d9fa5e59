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
import { elapsedMs } from "./expander.ts";
import type { Logger } from "./log.ts";
import { listen, ProtocolError, serve } from "../protocols/codec.ts";
import { ModelPublished, PROTOCOL_VERSION, ScoreReply, ScoreRequest } from "../protocols/messages.ts";
import { QueueGroups, runSubjects } from "../protocols/subjects.ts";

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
  const s = runSubjects(options.run);
  const log = options.log.child({ actor: "scorer", run: options.run, worker: options.id });
  let scorer = options.scorer;
  let resolveExit!: (exit: ChildExit) => void;
  const exited = new Promise<ChildExit>((r) => (resolveExit = r));
  let lastBeat = options.clock.now();
  const codecLog = (e: Record<string, unknown>) => log.warn(String(e.msg ?? "codec"), e);
  const sub = serve(options.bus, s.score, ScoreRequest, async (req): Promise<ScoreReply | ProtocolError> => {
    lastBeat = options.clock.now();
    const t0 = performance.now();
    try {
      options.crash.maybeCrash("scorer");
    } catch (err) {
      stopNow({ error: err });
      return new ProtocolError({ code: "Unavailable", message: `Retry the request: ${(err as Error).message}` });
    }
    const current = scorer;
    if (req.items.length > 0 && current === undefined) {
      return new ProtocolError({ code: "Unavailable", message: "Retry later: no scorer model is loaded" });
    }
    const raw = req.items.length > 0 && current !== undefined ? await current.score(req.items) : [];
    const scores = raw.map((x) => Math.max(-1, Math.min(1, Number.isFinite(x) ? x : 0)));
    const grades = (req.grade ?? []).map((g) => options.grade(g.answer, g.reference));
    return { v: PROTOCOL_VERSION, id: req.id, scores, grades, scorerVersion: current?.version ?? "none", workMs: elapsedMs(t0) };
  }, { queue: QueueGroups.scorer, replySchema: ScoreReply, log: codecLog });
  const modelSub = listen(options.bus, s.model, ModelPublished, async (ann) => {
    if (ann.name === "policy" || ann.version === scorer?.version) return;
    try {
      scorer = await options.loadScorer(ann.version);
      log.info("Scorer swapped model", { version: ann.version });
    } catch (err) {
      log.warn(`Cannot load scorer version ${ann.version}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }, { log: codecLog });
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
