/**
 * The Scorer's statechart: `idle` → `serving` a batch → `idle`, with `swapping` between batches.
 * A batch is every job queued when it starts; each job (one ScoreRequest) is one `score` call on
 * the StepScorer (PPM values; the calls of a batch run together, and a job's scores never depend
 * on the other jobs) plus grading of its terminal answers. Jobs that arrive while a batch runs
 * wait for the next one. A newer model announced on `.model` is loaded after the batch in flight
 * and before the next one (hot swap), so every job is scored by one version, which its outcome
 * names. A version that cannot be loaded is skipped and the current model keeps serving. An
 * injected crash (one draw per job, as before) fails the batch, rejects every queued job and
 * stops the machine in `crashed`, for the Supervisor; `stop` finishes queued jobs first.
 */
import { assign, fromPromise, setup } from "xstate";
import type { ScoreItem, StepScorer } from "../math/contracts.ts";
import type { GradeItem } from "../protocols/messages.ts";
import { passesChecks } from "../math/reference.ts";
import type { CrashInjector } from "./crashInjector.ts";
import type { BatchContext, BatchEvent, Job } from "./serving.ts";
import { countBatch, deliverBatch, enqueueJob, initialBatchContext, rejectAllJobs, swapGuards } from "./serving.ts";

/** Grades an answer against a reference (math's `answersEqual`). */
export type Grader = (answer: string, reference: string) => boolean;

/** What one job asks: PPM values of `items` and grades of `grade`. */
export interface ScoreJobRequest {
  readonly items: readonly ScoreItem[];
  readonly grade: readonly GradeJob[];
}

/** One answer to grade; with `checks`, the trajectory `steps` must also pass them. */
export type GradeJob = GradeItem;

/** A grade: the answer equals the reference and, where checks come with it, the steps pass them. */
export function gradeJob(grade: Grader, g: GradeJob): boolean {
  return grade(g.answer, g.reference) && (g.checks === undefined || passesChecks(g.steps ?? [], g.checks));
}

/** The result of one job. */
export type ScoreOutcome =
  | {
    readonly _tag: "Scored";
    /** One value in [−1, 1] per item (non-finite values become 0). */
    readonly scores: number[];
    readonly grades: boolean[];
    /** The version that scored the items ("none" when no model is loaded). */
    readonly scorerVersion: string;
    /** Jobs in the batch this one ran in. */
    readonly batchSize: number;
  }
  /** The job has items to score and no model is loaded (round 1 serves grading only). */
  | { readonly _tag: "NoModel"; readonly message: string };

/** One queued job and where its outcome goes. */
export type ScoreJob = Job<ScoreJobRequest, ScoreOutcome>;

/** What the machine starts from. */
export interface ScorerInput {
  /** The model to start with; undefined serves grading only. */
  readonly scorer: StepScorer | undefined;
  readonly loadScorer: (version: string) => Promise<StepScorer>;
  readonly grade: Grader;
  readonly crash: CrashInjector;
  /** Name used by the crash injector ("scorer"). */
  readonly name: string;
}

interface ScorerContext extends ScorerInput, BatchContext<ScoreJob> {
  /** Versions loaded by hot swaps, in order. */
  swaps: string[];
}

/** Events the machine accepts. */
export type ScorerEvent = BatchEvent<ScoreJob>;

/** Scores and grades one job with `scorer` (no crash draws here). */
export async function scoreJob(scorer: StepScorer | undefined, grade: Grader, request: ScoreJobRequest, batchSize: number): Promise<ScoreOutcome> {
  if (request.items.length > 0 && scorer === undefined) {
    return { _tag: "NoModel", message: "Retry later: no scorer model is loaded" };
  }
  const raw = request.items.length > 0 && scorer !== undefined ? await scorer.score(request.items) : [];
  return {
    _tag: "Scored",
    scores: raw.map((x) => Math.max(-1, Math.min(1, Number.isFinite(x) ? x : 0))),
    grades: request.grade.map((g) => gradeJob(grade, g)),
    scorerVersion: scorer?.version ?? "none",
    batchSize,
  };
}

/** The Scorer machine. */
export const scorerMachine = setup({
  types: {
    context: {} as ScorerContext,
    events: {} as ScorerEvent,
    input: {} as ScorerInput,
  },
  actors: {
    runBatch: fromPromise<ScoreOutcome[], { ctx: ScorerContext; jobs: ScoreJob[] }>(async ({ input }) => {
      const { ctx, jobs } = input;
      for (let i = 0; i < jobs.length; i++) ctx.crash.maybeCrash(ctx.name);
      const scorer = ctx.scorer;
      return await Promise.all(jobs.map((j) => scoreJob(scorer, ctx.grade, j.request, jobs.length)));
    }),
    loadModel: fromPromise<StepScorer, { ctx: ScorerContext; version: string }>(({ input }) => input.ctx.loadScorer(input.version)),
  },
  guards: swapGuards,
  actions: {
    enqueue: assign((args) => enqueueJob(args)),
    takeBatch: assign(({ context }) => ({ current: context.queue, queue: [] })),
    noteAnnouncement: assign({
      pendingVersion: ({ context, event }) =>
        event.type === "model.announced" && event.version !== context.scorer?.version ? event.version : context.pendingVersion,
    }),
    requestStop: assign({ stopping: true }),
    deliver: deliverBatch,
    countBatch: assign((args) => countBatch(args)),
    rejectAll: rejectAllJobs("Scorer"),
  },
}).createMachine({
  id: "scorer",
  context: ({ input }) => ({ ...input, ...initialBatchContext<ScoreJob>(), swaps: [] }),
  initial: "idle",
  on: {
    "model.announced": { actions: "noteAnnouncement" },
    stop: { actions: "requestStop" },
  },
  states: {
    idle: {
      always: [
        { guard: "swapPending", target: "swapping" },
        { guard: "hasQueued", target: "serving" },
        { guard: "stopRequested", target: "stopped" },
      ],
      on: { job: { actions: "enqueue", target: "serving" } },
    },
    serving: {
      entry: "takeBatch",
      on: { job: { actions: "enqueue" } },
      invoke: {
        src: "runBatch",
        input: ({ context }) => ({ ctx: context, jobs: context.current }),
        // Back through `idle`, which swaps first when a newer model was announced.
        onDone: { target: "idle", actions: ["deliver", "countBatch"] },
        onError: { target: "crashed", actions: assign({ error: ({ event }) => event.error }) },
      },
    },
    swapping: {
      on: { job: { actions: "enqueue" } },
      invoke: {
        src: "loadModel",
        input: ({ context }) => ({ ctx: context, version: context.pendingVersion! }),
        onDone: {
          target: "idle",
          actions: assign({
            scorer: ({ event }) => event.output,
            swaps: ({ context, event }) => [...context.swaps, event.output.version],
            pendingVersion: undefined,
          }),
        },
        // A version that cannot be loaded is skipped; the current model keeps serving.
        onError: { target: "idle", actions: assign({ pendingVersion: undefined }) },
      },
    },
    crashed: { entry: "rejectAll", type: "final" },
    stopped: { entry: "rejectAll", type: "final" },
  },
});
