/**
 * The Expander actor on the bus: serves `rstar.<run>.expand` in the `expanders` queue group,
 * feeds each request into `expanderMachine` (dynamic batching), answers retries from the reply
 * cache, and follows `.model` announcements (hot swap between batches). `startExpander` returns a
 * `ChildHandle`, so the Supervisor can watch and restart it.
 */
import { createActor } from "xstate";
import type { ProposeRequest, StepExecutor, StepProposer } from "../math/contracts.ts";
import { answersEqual } from "../math/grade.ts";
import type { Bus } from "../protocols/bus.ts";
import type { ChildExit } from "./childMachine.ts";
import type { Clock } from "./clock.ts";
import type { CrashInjector } from "./crashInjector.ts";
import type { ExpanderInput, ExpandOutcome } from "./expanderMachine.ts";
import { expanderMachine } from "./expanderMachine.ts";
import type { Logger } from "./log.ts";
import { ReplyCache } from "./replyCache.ts";
import type { Grader } from "./scorerMachine.ts";
import { gradeJob } from "./scorerMachine.ts";
import type { ServingHandle } from "./serving.ts";
import { elapsedMs, retryLater, serveJobs, startJobActor } from "./serving.ts";
import type { Candidate as WireCandidate, ExpandAsk } from "../protocols/messages.ts";
import { ExpandReply, ExpandRequest, PROTOCOL_VERSION } from "../protocols/messages.ts";
import { QueueGroups, runSubjects } from "../protocols/subjects.ts";
import type { Candidate } from "../search/types.ts";

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
  /** Grades terminal answers of requests that carry `grade` (default: `answersEqual`). */
  readonly grade?: Grader;
  readonly maxBatch?: number;
  readonly maxWaitMs?: number;
  /** Reports each batch (for stats and benchmarks). */
  readonly onBatch?: (size: number) => void;
}

/** A running Expander: a `ChildHandle` plus the version it serves. */
export type ExpanderHandle = ServingHandle;

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
  let lastBatches = 0;
  const core = startJobActor(actor, "Expander", (snap) => {
    if (snap.context.batches === lastBatches) return;
    lastBatches = snap.context.batches;
    onBatch?.(snap.context.lastBatchSize);
  });
  return {
    ...core,
    policyVersion: () => actor.getSnapshot().context.policy.version,
    announce: (version) => actor.send({ type: "model.announced", version }),
    batches: () => actor.getSnapshot().context.batches,
  };
}

/** Starts an Expander on the bus. */
export function startExpander(options: ExpanderOptions): Promise<ExpanderHandle> {
  const s = runSubjects(options.run);
  const grade = options.grade ?? answersEqual;
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
  const handle = serveJobs({
    bus: options.bus,
    subject: s.expand,
    queue: QueueGroups.expander,
    requestSchema: ExpandRequest,
    replySchema: ExpandReply,
    handle: async (req) => {
      try {
        return await options.cache.getOrCreate(req.id, async () => {
          const t0 = performance.now();
          // Each ask is its own job, so the machine batches a wave's asks with other problems'.
          const outs = await Promise.all(req.asks.map((a) =>
            core.submit({ problem: req.problem, steps: a.steps, k: req.k, temperature: req.temperature, topP: req.topP, seed: a.seed })
          ));
          const reply: ExpandReply = {
            v: PROTOCOL_VERSION,
            id: req.id,
            results: outs.map((out, i) => ({
              candidates: out.candidates.map((c) => gradedWire(c, req, req.asks[i]!, grade)),
              policyVersion: out.policyVersion,
              tokens: out.tokens,
            })),
            batchSize: Math.max(...outs.map((o) => o.batchSize)),
            workMs: elapsedMs(t0),
          };
          return reply;
        });
      } catch (err) {
        return retryLater(err, "the expander failed: ");
      }
    },
    model: {
      subject: s.model,
      onAnnounce: (ann) => {
        if (ann.name === "policy") core.announce(ann.version);
      },
    },
    core,
    log,
    lastHeartbeat: () => lastBeat,
    version: core.policyVersion,
  });
  log.info("Expander started", { policyVersion: options.policy.version });
  return Promise.resolve(handle);
}

/** A candidate in its wire shape, graded when the request asks for grades and it has an answer. */
function gradedWire(c: Candidate, req: ExpandRequest, ask: ExpandAsk, grade: Grader): WireCandidate {
  const wire = toWire(c);
  if (req.grade === undefined || !c.terminal || c.answer === undefined) return wire;
  const checks = req.grade.checks;
  const correct = gradeJob(grade, {
    answer: c.answer,
    reference: req.grade.reference,
    ...(checks === undefined ? {} : { steps: [...ask.steps, c.step], checks }),
  });
  return { ...wire, correct };
}

/** A search candidate in its wire shape. */
export function toWire(c: Candidate): WireCandidate {
  return {
    step: { text: c.step.text, code: c.step.code },
    stdout: c.stdout,
    ...(c.error === undefined ? {} : { error: { kind: c.error.kind, message: c.error.message, line: c.error.line } }),
    terminal: c.terminal,
    ...(c.answer === undefined ? {} : { answer: c.answer }),
    logprob: Number.isFinite(c.logprob) ? c.logprob : -1e9,
  };
}
