/**
 * What the serving actors (Expander, Scorer, Trainer) share. Each runs a job-queue statechart:
 * a bus request becomes a `Job` sent to the machine as a `job` event, the machine resolves or
 * rejects it, and `stop` finishes the queued jobs before the machine ends in a final state
 * (`stopped`, or `crashed` after a failure). This module holds that plumbing once:
 * - machine parts: the `Job` type, the queue guards, and the context, events and actions of the
 *   batching machines (expanderMachine.ts, scorerMachine.ts; trainerMachine.ts runs one job at a
 *   time and uses the queue parts only);
 * - `startJobActor`: a started machine as `submit` / `exited` / `stop`;
 * - `serveJobs`: the bus side, one subject served in a queue group, optionally following `.model`
 *   announcements, as the `ServingHandle` the Supervisor watches.
 */
import type { Bus } from "../protocols/bus.ts";
import type { MessageSchema } from "../protocols/codec.ts";
import { listen, ProtocolError, serve } from "../protocols/codec.ts";
import { ModelPublished } from "../protocols/messages.ts";
import type { ChildExit, ChildHandle } from "./childMachine.ts";
import { codecLogTo, type Logger } from "./log.ts";

/** One queued request and where its outcome goes. */
export interface Job<Req, Out> {
  readonly request: Req;
  readonly resolve: (outcome: Out) => void;
  readonly reject: (error: unknown) => void;
}

/** What a batching machine (expanderMachine.ts, scorerMachine.ts) keeps besides its input. */
export interface BatchContext<J> {
  queue: J[];
  /** The batch in flight. */
  current: J[];
  /** Newer version announced, loaded between batches. */
  pendingVersion: string | undefined;
  stopping: boolean;
  batches: number;
  /** Size of the last batch run. */
  lastBatchSize: number;
  /** Why the machine crashed. */
  error: unknown;
}

/** A batching machine's `BatchContext` before its first job. */
export function initialBatchContext<J>(): BatchContext<J> {
  return { queue: [], current: [], pendingVersion: undefined, stopping: false, batches: 0, lastBatchSize: 0, error: undefined };
}

/** Events a batching machine accepts: a job, a newer model version, a stop. */
export type BatchEvent<J> =
  | { type: "job"; job: J }
  | { type: "model.announced"; version: string }
  | { type: "stop" };

/** The context fields the queue guards read. */
interface QueueState {
  readonly queue: readonly unknown[];
  readonly stopping: boolean;
}

/** Guards of every job-queue machine. */
export const queueGuards = {
  /** Jobs are waiting. */
  hasQueued: ({ context }: { context: QueueState }) => context.queue.length > 0,
  /** A stop was asked and no job is left to run. */
  stopRequested: ({ context }: { context: QueueState }) => context.stopping && context.queue.length === 0,
};

/** Guards of the machines that hot-swap their model between batches. */
export const swapGuards = {
  ...queueGuards,
  /** A newer model version was announced and waits to be loaded. */
  swapPending: ({ context }: { context: { readonly pendingVersion: string | undefined } }) => context.pendingVersion !== undefined,
};

/** Assigner (`assign((args) => enqueueJob(args))`): appends the job of a `job` event to the queue. */
export function enqueueJob<J>({ context, event }: { context: { readonly queue: readonly J[] }; event: { type: string; job?: J } }): {
  queue?: J[];
} {
  return event.type === "job" ? { queue: [...context.queue, event.job!] } : {};
}

/** Assigner (`assign((args) => countBatch(args))`): a batch is done; counts it and clears `current`. */
export function countBatch({ context }: { context: { readonly current: readonly unknown[]; readonly batches: number } }): {
  current: never[];
  batches: number;
  lastBatchSize: number;
} {
  return { current: [], batches: context.batches + 1, lastBatchSize: context.current.length };
}

/** Action: resolves each job of the batch in flight with its outcome (the batch actor's output, in order). */
export function deliverBatch<Out>({ context, event }: { context: { readonly current: readonly Job<unknown, Out>[] }; event: unknown }): void {
  const outcomes = (event as { output: Out[] }).output;
  context.current.forEach((job, i) => job.resolve(outcomes[i]!));
}

/** The context fields `rejectAllJobs` reads. */
interface BatchState {
  readonly current: readonly Job<unknown, never>[];
  readonly queue: readonly Job<unknown, never>[];
  readonly error: unknown;
}

/** Action factory: rejects every job in flight and queued, with the machine's error or "`<name>` stopped". */
export function rejectAllJobs(name: string): (args: { context: BatchState }) => void {
  return ({ context }) => {
    const error = context.error ?? new Error(`${name} stopped`);
    for (const job of [...context.current, ...context.queue]) job.reject(error);
  };
}

/** The snapshot fields `startJobActor` reads. */
interface JobSnapshot {
  readonly status: string;
  readonly value: unknown;
  /** The machine's context; its `error` (when it has one) is why it crashed. */
  readonly context: object;
}

/** An xstate actor of a job-queue machine, as `startJobActor` uses it (not started yet). */
export interface JobMachineActor<Req, Out, Snap extends JobSnapshot> {
  subscribe(observer: { next: (snap: Snap) => void; error: (err: unknown) => void }): unknown;
  start(): unknown;
  getSnapshot(): Snap;
  send(event: { type: "job"; job: Job<Req, Out> } | { type: "stop" }): void;
}

/** A running job-queue machine: submit requests, get outcomes. */
export interface JobActorCore<Req, Out> {
  submit(request: Req): Promise<Out>;
  /** Resolves when the machine ends; `error` set when it crashed. */
  readonly exited: Promise<ChildExit>;
  /** Finishes queued jobs, then stops. */
  stop(): Promise<void>;
}

/**
 * Starts `actor` and serves it as a `JobActorCore`: `submit` sends a `job` event and resolves with
 * the job's outcome (refused with "`<name>` is not running" once the machine has ended); `exited`
 * resolves when the machine reaches a final state (with its context's `error` when that state is
 * `crashed`) or fails; `stop` sends `stop` and waits for the end. `onSnapshot` sees every snapshot
 * first (batch counters, swap logs).
 */
export function startJobActor<Req, Out, Snap extends JobSnapshot>(
  actor: JobMachineActor<Req, Out, Snap>,
  name: string,
  onSnapshot?: (snap: Snap) => void,
): JobActorCore<Req, Out> {
  let resolveExit!: (exit: ChildExit) => void;
  const exited = new Promise<ChildExit>((r) => (resolveExit = r));
  actor.subscribe({
    next: (snap) => {
      onSnapshot?.(snap);
      if (snap.status !== "done") return;
      resolveExit(snap.value === "crashed" ? { error: "error" in snap.context ? snap.context.error : undefined } : {});
    },
    error: (err) => resolveExit({ error: err }),
  });
  actor.start();
  return {
    exited,
    submit: (request) =>
      new Promise((resolve, reject) => {
        if (actor.getSnapshot().status === "done") return reject(new Error(`${name} is not running`));
        actor.send({ type: "job", job: { request, resolve, reject } });
      }),
    stop: async () => {
      actor.send({ type: "stop" });
      await exited;
    },
  };
}

/** A serving actor as the Supervisor sees it, plus the model version it serves. */
export interface ServingHandle extends ChildHandle {
  policyVersion(): string;
}

/** What `serveJobs` puts on the bus. */
export interface ServeJobsOptions<Req, Rep> {
  readonly bus: Bus;
  readonly subject: string;
  /** Queue group shared by the actors of this kind. */
  readonly queue: string;
  readonly requestSchema: MessageSchema<Req>;
  readonly replySchema: MessageSchema<Rep>;
  readonly handle: (request: Req) => Promise<Rep | ProtocolError>;
  /** Follows model announcements on `subject` when set. */
  readonly model?: { readonly subject: string; readonly onAnnounce: (announcement: ModelPublished) => void };
  /** The machine behind the handler. */
  readonly core: { readonly exited: Promise<ChildExit>; stop(): Promise<void> };
  readonly log: Logger;
  readonly lastHeartbeat: () => number;
  /** The model version serving now. */
  readonly version: () => string;
}

/**
 * Serves `subject` with `handle` (and follows announcements when `model` is set). The
 * subscriptions end when the machine ends; `stop` drains the requests in flight, stops the
 * machine, then unsubscribes.
 */
export function serveJobs<Req, Rep>(options: ServeJobsOptions<Req, Rep>): ServingHandle {
  const codecLog = codecLogTo(options.log);
  let served = 0;
  const handle = async (req: Req): Promise<Rep | ProtocolError> => {
    const out = await options.handle(req);
    if (!(out instanceof ProtocolError)) served++;
    return out;
  };
  const sub = serve(options.bus, options.subject, options.requestSchema, handle, {
    queue: options.queue,
    replySchema: options.replySchema,
    log: codecLog,
  });
  const model = options.model;
  const modelSub = model === undefined ? undefined : listen(options.bus, model.subject, ModelPublished, model.onAnnounce, { log: codecLog });
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    sub.unsubscribe();
    modelSub?.unsubscribe();
  };
  options.core.exited.then(cleanup);
  return {
    exited: options.core.exited,
    lastHeartbeat: options.lastHeartbeat,
    served: () => served,
    policyVersion: options.version,
    stop: async () => {
      await sub.drain().catch(() => {});
      await options.core.stop();
      cleanup();
    },
  };
}

/** The reply to a request the machine could not run (it crashed or is stopping): retry it elsewhere or after the restart. */
export function retryLater(err: unknown, prefix = ""): ProtocolError {
  return new ProtocolError({ code: "Unavailable", message: `Retry the request: ${prefix}${err instanceof Error ? err.message : String(err)}` });
}

/** Milliseconds since `t0` (`performance.now()`), to the microsecond: a reply's `workMs`. */
export function elapsedMs(t0: number): number {
  return Math.round((performance.now() - t0) * 1000) / 1000;
}
