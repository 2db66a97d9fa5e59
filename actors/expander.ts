/**
 * The Expander actor on the bus: serves `rstar.<run>.expand` in the `expanders` queue group,
 * feeds each request into `expanderMachine` (dynamic batching), answers retries from the reply
 * cache, and follows `.model` announcements (hot swap between batches). `startExpander` returns a
 * `ChildHandle`, so the Supervisor can watch and restart it.
 */
import { createActor } from "xstate";
import type { ProposeRequest, StepExecutor, StepProposer } from "../math/contracts.ts";
import type { Bus } from "../protocols/bus.ts";
import type { ChildHandle, ChildExit } from "./childMachine.ts";
import type { Clock } from "./clock.ts";
import type { CrashInjector } from "./crashInjector.ts";
import type { ExpanderInput, ExpandOutcome } from "./expanderMachine.ts";
import { expanderMachine } from "./expanderMachine.ts";
import type { Logger } from "./log.ts";
import { ReplyCache } from "./replyCache.ts";
import type { ExpandReply, ExpandRequest } from "./wire.ts";
import { checkExpandRequest, checkModelAnnouncement, decode, isBad, serve, subjects } from "./wire.ts";

/** What an Expander needs. */
export interface ExpanderOptions {
  readonly bus: Bus;
  readonly run: string;
  /** Worker id, named in replies. */
  readonly id: string;
  /** The policy to start with (the latest version at start). */
  readonly policy: StepProposer;
  readonly executor: StepExecutor;
  readonly loadPolicy: (version: string) => Promise<StepProposer>;
  readonly log: Logger;
  readonly clock: Clock;
  readonly crash: CrashInjector;
  /** Kept across restarts so a retry after a crash still hits the cache. */
  readonly cache: ReplyCache<ExpandReply>;
  readonly maxBatch?: number;
  readonly maxWaitMs?: number;
  /** Reports each batch (for stats and benchmarks). */
  readonly onBatch?: (size: number) => void;
}

/** A running Expander: a `ChildHandle` plus the version it serves. */
export interface ExpanderHandle extends ChildHandle {
  policyVersion(): string;
}

/** An Expander machine without the bus: submit requests, get outcomes (benchmarks, embedding). */
export interface ExpanderCore {
  submit(request: ProposeRequest): Promise<ExpandOutcome>;
  /** Resolves when the machine ends; `error` set when it crashed. */
  readonly exited: Promise<ChildExit>;
  policyVersion(): string;
  /** Tells the machine a newer policy version exists (loaded between batches). */
  announce(version: string): void;
  /** Batches run so far. */
  batches(): number;
  /** Finishes queued work, then stops. */
  stop(): Promise<void>;
}

/** Starts the Expander machine with its dynamic batching, not connected to any bus. */
export function startExpanderCore(
  input: Omit<ExpanderInput, "maxBatch" | "maxWaitMs" | "name"> & { maxBatch?: number; maxWaitMs?: number },
  clock: Clock,
  onBatch?: (size: number) => void,
): ExpanderCore {
  const actor = createActor(expanderMachine, {
    input: { ...input, maxBatch: input.maxBatch ?? 64, maxWaitMs: input.maxWaitMs ?? 5, name: "expander" },
    clock,
  });
  let resolveExit!: (exit: ChildExit) => void;
  const exited = new Promise<ChildExit>((r) => (resolveExit = r));
  let lastBatches = 0;
  actor.subscribe({
    next: (snap) => {
      if (snap.context.batches !== lastBatches) {
        lastBatches = snap.context.batches;
        onBatch?.(snap.context.lastBatchSize);
      }
      if (snap.status !== "done") return;
      resolveExit(snap.value === "crashed" ? { error: snap.context.error } : {});
    },
    error: (err) => resolveExit({ error: err }),
  });
  actor.start();
  return {
    exited,
    submit: (request) =>
      new Promise((resolve, reject) => {
        if (actor.getSnapshot().status === "done") return reject(new Error("Expander is not running"));
        actor.send({ type: "job", job: { request, resolve, reject } });
      }),
    policyVersion: () => actor.getSnapshot().context.policy.version,
    announce: (version) => actor.send({ type: "model.announced", version }),
    batches: () => actor.getSnapshot().context.batches,
    stop: async () => {
      actor.send({ type: "stop" });
      await exited;
    },
  };
}

/** Starts an Expander on the bus. */
export function startExpander(options: ExpanderOptions): Promise<ExpanderHandle> {
  const s = subjects(options.run);
  const log = options.log.child({ actor: "expander", run: options.run, worker: options.id });
  let lastBeat = options.clock.now();
  const core = startExpanderCore({
    policy: options.policy,
    executor: options.executor,
    loadPolicy: options.loadPolicy,
    crash: options.crash,
    ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
    ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
  }, options.clock, (size) => {
    lastBeat = options.clock.now();
    options.onBatch?.(size);
  });
  core.exited.then(() => cleanup());
  const submit = (req: ExpandRequest): Promise<ExpandOutcome> =>
    core.submit({ problem: req.problem, steps: req.steps, k: req.k, temperature: req.temperature, topP: req.topP, seed: req.seed });

  const expandSub = serve(bus(options), s.expand, checkExpandRequest, (req) =>
    options.cache.getOrCreate(req.id, async () => {
      const out = await submit(req);
      return { id: req.id, candidates: out.candidates, policyVersion: out.policyVersion, batchSize: out.batchSize, worker: options.id };
    }), {
    queue: "expanders",
    deadLetter: s.deadLetter,
    onError: (err) => log.warn(`Expand request failed: ${err instanceof Error ? err.message : String(err)}`),
  });
  const modelSub = options.bus.subscribe(s.model, (msg) => {
    const ann = decode(msg.data, checkModelAnnouncement);
    if (isBad(ann)) return log.warn(`Ignored model announcement: ${ann.message}`);
    if (ann.role === "policy") core.announce(ann.version);
  });
  let cleaned = false;
  function cleanup() {
    if (cleaned) return;
    cleaned = true;
    expandSub.unsubscribe();
    modelSub.unsubscribe();
  }
  log.info("Expander started", { policyVersion: options.policy.version });
  return Promise.resolve({
    exited: core.exited,
    lastHeartbeat: () => lastBeat,
    policyVersion: core.policyVersion,
    stop: async () => {
      await expandSub.drain().catch(() => {});
      await core.stop();
      cleanup();
    },
  });
}

function bus(options: ExpanderOptions): Bus {
  return options.bus;
}
