/**
 * The Trainer's statechart: `idle` → `training` → `idle`, one job at a time. A train request that
 * arrives while a job trains is queued, not refused, and runs after the jobs before it (first in,
 * first out): the coordinator asks for the policy and the PPM of a round back to back, and both
 * must be trained. A job that fails (bad data, a training error) answers its own request with the
 * error and the Trainer goes on with the next; training errors do not stop the actor. `stop`
 * finishes the queued jobs, then the machine ends in `stopped`; jobs submitted after that are
 * refused (`startTrainerCore`).
 * The training itself is the `train` function of the input (actors/trainer.ts).
 */
import { assign, fromPromise, setup } from "xstate";
import type { ProtocolError } from "../protocols/codec.ts";
import type { TrainReply, TrainRequest } from "../protocols/messages.ts";
import type { Job } from "./serving.ts";
import { enqueueJob, queueGuards } from "./serving.ts";

/** A job's result: the reply, or the refusal the requester gets. */
export type TrainOutcome = TrainReply | ProtocolError;

/** One queued train request and where its outcome goes. */
export type TrainJob = Job<TrainRequest, TrainOutcome>;

/** What the machine starts from. */
export interface TrainerInput {
  /** Trains, stores and announces one model (actors/trainer.ts). */
  readonly train: (request: TrainRequest) => Promise<TrainOutcome>;
}

interface TrainerContext extends TrainerInput {
  queue: TrainJob[];
  current: TrainJob | undefined;
  /** The last version this Trainer published ("none" before the first). */
  version: string;
  /** Jobs finished so far (answered with a reply or an error). */
  jobs: number;
  stopping: boolean;
}

/** Events the machine accepts. */
export type TrainerEvent = { type: "job"; job: TrainJob } | { type: "stop" };

/** The Trainer machine. */
export const trainerMachine = setup({
  types: {
    context: {} as TrainerContext,
    events: {} as TrainerEvent,
    input: {} as TrainerInput,
  },
  actors: {
    runJob: fromPromise<TrainOutcome, { ctx: TrainerContext; job: TrainJob }>(({ input }) => input.ctx.train(input.job.request)),
  },
  guards: queueGuards,
  actions: {
    enqueue: assign((args) => enqueueJob(args)),
    takeJob: assign(({ context }) => ({ current: context.queue[0], queue: context.queue.slice(1) })),
    requestStop: assign({ stopping: true }),
  },
}).createMachine({
  id: "trainer",
  context: ({ input }) => ({ ...input, queue: [], current: undefined, version: "none", jobs: 0, stopping: false }),
  initial: "idle",
  on: { stop: { actions: "requestStop" } },
  states: {
    idle: {
      always: [
        { guard: "hasQueued", target: "training" },
        { guard: "stopRequested", target: "stopped" },
      ],
      on: { job: { actions: "enqueue", target: "training" } },
    },
    training: {
      entry: "takeJob",
      // Queued, not refused: it runs after the job in flight.
      on: { job: { actions: "enqueue" } },
      invoke: {
        src: "runJob",
        input: ({ context }) => ({ ctx: context, job: context.current! }),
        onDone: {
          target: "idle",
          actions: [
            ({ context, event }) => context.current!.resolve(event.output),
            assign({
              version: ({ context, event }) => ("version" in event.output ? event.output.version : context.version),
              jobs: ({ context }) => context.jobs + 1,
              current: undefined,
            }),
          ],
        },
        onError: {
          target: "idle",
          actions: [
            ({ context, event }) => context.current!.reject(event.error),
            assign({ jobs: ({ context }) => context.jobs + 1, current: undefined }),
          ],
        },
      },
    },
    stopped: { type: "final" },
  },
});
