/**
 * The Scorer actor on the bus: serves `rstar.<run>.score` in the `scorers` queue group and feeds
 * each request into `scorerMachine` (one `score` call per request, PPM/ORM values, plus grading
 * of terminal answers against references); every reply names the scorer version that scored it.
 * Follows `.model` announcements (hot swap between batches). `startScorer` returns a
 * `ChildHandle`, so the Supervisor can watch and restart it.
 */
import { createActor } from "xstate";
import type { StepScorer } from "../math/contracts.ts";
import type { Bus } from "../protocols/bus.ts";
import type { ChildExit } from "./childMachine.ts";
import type { Clock } from "./clock.ts";
import type { CrashInjector } from "./crashInjector.ts";
import type { Logger } from "./log.ts";
import type { Grader, ScoreJobRequest, ScoreOutcome, ScorerInput } from "./scorerMachine.ts";
import { scorerMachine } from "./scorerMachine.ts";
import type { ServingHandle } from "./serving.ts";
import { elapsedMs, retryLater, serveJobs, startJobActor } from "./serving.ts";
import { ProtocolError } from "../protocols/codec.ts";
import { PROTOCOL_VERSION, ScoreReply, ScoreRequest } from "../protocols/messages.ts";
import { QueueGroups, runSubjects } from "../protocols/subjects.ts";

export type { Grader } from "./scorerMachine.ts";

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

/** A Scorer machine without the bus: submit jobs, get outcomes (tests, embedding). */
export interface ScorerCore {
  submit(request: ScoreJobRequest): Promise<ScoreOutcome>;
  /** Resolves when the machine ends; `error` set when it crashed. */
  readonly exited: Promise<ChildExit>;
  /** The version serving now ("none" without a model). */
  scorerVersion(): string;
  /** Tells the machine a newer model version exists (loaded between batches). */
  announce(version: string): void;
  /** Batches run so far. */
  batches(): number;
  /** Finishes queued jobs, then stops. */
  stop(): Promise<void>;
}

/** Starts the Scorer machine, not connected to any bus. */
export function startScorerCore(input: Omit<ScorerInput, "name">, clock: Clock, log?: Logger): ScorerCore {
  const actor = createActor(scorerMachine, { input: { ...input, name: "scorer" }, clock });
  let swaps = 0;
  const core = startJobActor(actor, "Scorer", (snap) => {
    if (snap.context.swaps.length === swaps) return;
    swaps = snap.context.swaps.length;
    log?.info("Scorer swapped model", { version: snap.context.swaps[swaps - 1] });
  });
  return {
    ...core,
    scorerVersion: () => actor.getSnapshot().context.scorer?.version ?? "none",
    announce: (version) => actor.send({ type: "model.announced", version }),
    batches: () => actor.getSnapshot().context.batches,
  };
}

/** Starts a Scorer on the bus; the handle's `policyVersion` reports the scorer version. */
export function startScorer(options: ScorerOptions): Promise<ServingHandle> {
  const s = runSubjects(options.run);
  const log = options.log.child({ actor: "scorer", run: options.run, worker: options.id });
  let lastBeat = options.clock.now();
  const core = startScorerCore({
    scorer: options.scorer,
    loadScorer: async (version) => {
      try {
        return await options.loadScorer(version);
      } catch (err) {
        log.warn(`Cannot load scorer version ${version}: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      }
    },
    grade: options.grade,
    crash: options.crash,
  }, options.clock, log);
  return Promise.resolve(serveJobs({
    bus: options.bus,
    subject: s.score,
    queue: QueueGroups.scorer,
    requestSchema: ScoreRequest,
    replySchema: ScoreReply,
    handle: async (req): Promise<ScoreReply | ProtocolError> => {
      lastBeat = options.clock.now();
      const t0 = performance.now();
      let out: ScoreOutcome;
      try {
        out = await core.submit({ items: req.items, grade: req.grade ?? [] });
      } catch (err) {
        return retryLater(err);
      }
      if (out._tag === "NoModel") return new ProtocolError({ code: "Unavailable", message: out.message });
      lastBeat = options.clock.now();
      return { v: PROTOCOL_VERSION, id: req.id, scores: out.scores, grades: out.grades, scorerVersion: out.scorerVersion, workMs: elapsedMs(t0) };
    },
    model: {
      subject: s.model,
      onAnnounce: (ann) => {
        if (ann.name !== "policy") core.announce(ann.version);
      },
    },
    core,
    log,
    lastHeartbeat: () => lastBeat,
    version: core.scorerVersion,
  }));
}
