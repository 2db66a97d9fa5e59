/**
 * The Expander's statechart: dynamic batching over a StepProposer. Jobs (one per ExpandRequest)
 * queue up; a batch starts when the queue reaches `maxBatch` or `maxWaitMs` after the first job
 * arrived, and while a batch runs new jobs queue for the next one, so a busy expander always runs
 * full batches. Each batch is one `propose` call followed by executing every candidate's code.
 * A newer model announced mid-batch is loaded between batches (hot swap). A failing batch (a bug
 * or an injected crash) rejects its jobs and stops the machine in `crashed`, for the Supervisor.
 */
import { assign, fromPromise, setup } from "xstate";
import type { ProposeRequest, ProposedStep, StepExecutor, StepProposer } from "../math/contracts.ts";
import { toCandidate } from "../search/strategies.ts";
import type { Candidate } from "../search/types.ts";
import type { CrashInjector } from "./crashInjector.ts";
import type { BatchContext, BatchEvent, Job } from "./serving.ts";
import { countBatch, deliverBatch, enqueueJob, initialBatchContext, rejectAllJobs, swapGuards } from "./serving.ts";

/** The result of one job. */
export interface ExpandOutcome {
  /** Candidates after their code ran (search's `toCandidate`). */
  readonly candidates: Candidate[];
  /** Tokens generated for this job. */
  readonly tokens: number;
  /** Version of the policy that proposed them. */
  readonly policyVersion: string;
  /** Size of the batch the job ran in. */
  readonly batchSize: number;
}

/** One queued request and where its outcome goes. */
export type ExpandJob = Job<ProposeRequest, ExpandOutcome>;

/** What the machine starts from. */
export interface ExpanderInput {
  readonly policy: StepProposer;
  readonly executor: StepExecutor;
  /** Loads the policy of a given version (from the BlobStore). */
  readonly loadPolicy: (version: string) => Promise<StepProposer>;
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly crash: CrashInjector;
  /** Name used by the crash injector ("expander"). */
  readonly name: string;
}

interface ExpanderContext extends ExpanderInput, BatchContext<ExpandJob> {}

/** Events the machine accepts. */
export type ExpanderEvent = BatchEvent<ExpandJob>;

/** Runs one batch: a single `propose` for all jobs, then every candidate's code. */
export async function expandBatch(
  policy: StepProposer,
  executor: StepExecutor,
  requests: readonly ProposeRequest[],
): Promise<{ candidates: Candidate[]; tokens: number }[]> {
  const proposals = await policy.propose(requests);
  if (proposals.length !== requests.length) {
    throw new Error(`Policy ${policy.name} returned ${proposals.length} proposal lists for ${requests.length} requests`);
  }
  return await Promise.all(proposals.map(async (steps, i) => {
    const prefix = requests[i]!.steps;
    const candidates = await Promise.all(steps.map(async (step: ProposedStep) => {
      const result = await executor.runStep(prefix, { text: step.text, code: step.code });
      return toCandidate(step, result);
    }));
    return { candidates, tokens: steps.reduce((n, s) => n + s.tokens, 0) };
  }));
}

/** The Expander machine. */
export const expanderMachine = setup({
  types: {
    context: {} as ExpanderContext,
    events: {} as ExpanderEvent,
    input: {} as ExpanderInput,
  },
  actors: {
    runBatch: fromPromise<ExpandOutcome[], { ctx: ExpanderContext; jobs: ExpandJob[] }>(async ({ input }) => {
      const { ctx, jobs } = input;
      ctx.crash.maybeCrash(ctx.name);
      const policy = ctx.policy;
      const results = await expandBatch(policy, ctx.executor, jobs.map((j) => j.request));
      return results.map((r) => ({ ...r, policyVersion: policy.version, batchSize: jobs.length }));
    }),
    loadModel: fromPromise<StepProposer, { ctx: ExpanderContext; version: string }>(({ input }) =>
      input.ctx.loadPolicy(input.version)
    ),
  },
  delays: {
    maxWait: ({ context }) => context.maxWaitMs,
  },
  guards: {
    ...swapGuards,
    batchFull: ({ context }) => context.queue.length >= context.maxBatch,
    fullWithThis: ({ context }) => context.queue.length + 1 >= context.maxBatch,
  },
  actions: {
    enqueue: assign((args) => enqueueJob(args)),
    takeBatch: assign(({ context }) => ({
      current: context.queue.slice(0, context.maxBatch),
      queue: context.queue.slice(context.maxBatch),
    })),
    noteAnnouncement: assign({
      pendingVersion: ({ context, event }) =>
        event.type === "model.announced" && event.version !== context.policy.version
          ? event.version
          : context.pendingVersion,
    }),
    requestStop: assign({ stopping: true }),
    deliver: deliverBatch,
    countBatch: assign((args) => countBatch(args)),
    rejectAll: rejectAllJobs("Expander"),
  },
}).createMachine({
  id: "expander",
  context: ({ input }) => ({ ...input, ...initialBatchContext<ExpandJob>() }),
  initial: "idle",
  on: {
    "model.announced": { actions: "noteAnnouncement" },
    stop: { actions: "requestStop" },
  },
  states: {
    idle: {
      always: [
        { guard: "stopRequested", target: "stopped" },
        { guard: "swapPending", target: "swapping" },
      ],
      on: {
        job: [
          { guard: "fullWithThis", actions: "enqueue", target: "running" },
          { actions: "enqueue", target: "collecting" },
        ],
      },
    },
    collecting: {
      after: { maxWait: "running" },
      on: {
        job: [
          { guard: "fullWithThis", actions: "enqueue", target: "running" },
          { actions: "enqueue" },
        ],
        // Stopping flushes what is queued at once.
        stop: { target: "running", actions: "requestStop" },
      },
    },
    running: {
      entry: "takeBatch",
      on: { job: { actions: "enqueue" } },
      invoke: {
        src: "runBatch",
        input: ({ context }) => ({ ctx: context, jobs: context.current }),
        onDone: [
          { guard: "hasQueued", target: "running", reenter: true, actions: ["deliver", "countBatch"] },
          { target: "idle", actions: ["deliver", "countBatch"] },
        ],
        onError: { target: "crashed", actions: assign({ error: ({ event }) => event.error }) },
      },
    },
    swapping: {
      on: { job: { actions: "enqueue" } },
      invoke: {
        src: "loadModel",
        input: ({ context }) => ({ ctx: context, version: context.pendingVersion! }),
        onDone: [
          {
            guard: "hasQueued",
            target: "running",
            actions: assign({ policy: ({ event }) => event.output, pendingVersion: undefined }),
          },
          { target: "idle", actions: assign({ policy: ({ event }) => event.output, pendingVersion: undefined }) },
        ],
        // A version that cannot be loaded is skipped; the current policy keeps serving.
        onError: [
          { guard: "hasQueued", target: "running", actions: assign({ pendingVersion: undefined }) },
          { target: "idle", actions: assign({ pendingVersion: undefined }) },
        ],
      },
    },
    crashed: { entry: "rejectAll", type: "final" },
    stopped: { entry: "rejectAll", type: "final" },
  },
});

