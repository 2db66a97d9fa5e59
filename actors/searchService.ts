/**
 * The search service the evolve coordinator calls: it searches a batch of problems over the bus
 * (ExpandRequests to Expanders, ScoreRequests to Scorers), many problems at once, and hands each
 * finished tree to the caller, one at a time, awaiting the caller before the next problem starts.
 * Pause/resume and live knob changes (`set`) apply to problems not yet started.
 */
import type { ExecError, Problem } from "../math/contracts.ts";
import type { Bus } from "../protocols/bus.ts";
import { chooseAnswer } from "../search/extract.ts";
import { createTree, stats as searchStats } from "../search/SearchTree.ts";
import { requestSeed } from "../search/strategies.ts";
import type { Ask, Candidate, SearchConfig, SearchTree } from "../search/types.ts";
import { createActor, fromPromise, toPromise } from "xstate";
import type { Evaluated, WaveReply } from "./searcherMachine.ts";
import { searcherMachine } from "./searcherMachine.ts";
import { createBackoff } from "./backoff.ts";
import type { Clock } from "./clock.ts";
import { sleep, systemClock } from "./clock.ts";
import type { ControlState, Knobs } from "./controlState.ts";
import type { Logger } from "./log.ts";
import { Result } from "effect";
import type { CallError, MessageSchema, RequestSchema } from "../protocols/codec.ts";
import { call, publish } from "../protocols/codec.ts";
import {
  ExpandReply,
  ExpandRequest,
  type GradeItem,
  NodeExpandedEvent,
  ProblemSolvedEvent,
  PROTOCOL_VERSION,
  ScoreReply,
  ScoreRequest,
} from "../protocols/messages.ts";
import { runSubjects } from "../protocols/subjects.ts";

/** One batch of problems to search in a round. */
export interface SearchBatch {
  readonly round: number;
  /** `train`: terminals are graded against the reference; `test`: never sees the reference. */
  readonly mode: "train" | "test";
  readonly problems: readonly Problem[];
  readonly config: Partial<SearchConfig>;
  /** Ask the Scorer for PPM values of new steps (and use them at test time for terminals). */
  readonly usePpm: boolean;
  readonly seed: number;
  /**
   * Tells apart the request ids of batches that share a run and round (a second pass over the
   * same problems, whose replies must not come from the first pass's reply caches). Ids only:
   * no seed depends on it, so the trees do not either.
   */
  readonly pass?: string;
  /** Problems searched at the same time (default 8). */
  readonly concurrency?: number;
  /** Sampling temperature of the policy's steps (default 1); a `.control` or `set` knob wins. */
  readonly temperature?: number;
  /** Nucleus sampling threshold of the policy's steps (default 1: the whole distribution). */
  readonly topP?: number;
  /**
   * A `rollouts` knob set by `.control.set` is multiplied by this (default 1), so a pass with a
   * bigger budget keeps its proportion to the first pass (evolve's retry: `retryMultiplier`).
   */
  readonly rolloutScale?: number;
}

/** The outcome of one problem. */
export interface ProblemResult {
  readonly problemId: string;
  readonly tree: SearchTree;
  /** Train: a correct terminal exists; test: the chosen answer equals the reference. */
  readonly solved: boolean;
  /** The answer the search chooses (by Q), when there is one. */
  readonly answer?: string;
  readonly rollouts: number;
  /** Policy version that produced the steps (the newest seen when it changed mid-search). */
  readonly policyVersion: string;
  readonly scorerVersion?: string;
  /** Tokens generated for this problem. */
  readonly tokens: number;
  readonly wallMs: number;
}

/** Called for each finished problem; awaited before the next problem starts. */
export type OnResult = (result: ProblemResult) => Promise<void>;

/** Why a batch could not be searched. */
export class SearchFailed extends Error {
  readonly _tag = "SearchFailed";
  constructor(readonly problemId: string, readonly reason: string, options?: { cause?: unknown }) {
    super(`Search failed on problem ${problemId}: ${reason}`, options);
    this.name = "SearchFailed";
  }
}

/** Counters of the service, for status and fault reports. */
export interface SearchServiceStats {
  readonly problemsStarted: number;
  readonly problemsDone: number;
  readonly expandRequests: number;
  readonly scoreRequests: number;
  /** Requests sent again after a timeout or a bus failure. */
  readonly retries: number;
}

/** One request of a stage as the searcher saw it. */
export interface CallTiming {
  /** Wall ms from sending the request (encoding included) to its decoded reply, retries included. */
  readonly ms: number;
  /** The responder's own time on it (`workMs` of the reply), when it reported one. */
  readonly workMs?: number;
}

/** One stage of a problem's search: requests sent together and awaited together. */
export interface StageTiming {
  readonly problemId: string;
  /** `expand`: a wave's ExpandRequest; `score`: its ScoreRequest; `final`: the test-time grade. */
  readonly stage: "expand" | "score" | "final";
  readonly wave: number;
  /** Wall ms from the first request sent to the last reply decoded. */
  readonly ms: number;
  readonly calls: readonly CallTiming[];
}

/** Receives the searcher's timings (`rstar bench`'s `rollout.messaging_share.nats`). */
export interface SearchMeter {
  stage(timing: StageTiming): void;
  /** Wall ms of one problem's search, from its fresh tree to its answer. */
  problem(problemId: string, ms: number): void;
}

/** The handle the coordinator holds. */
export interface SearchService {
  /** Searches every problem of the batch; resolves once each has been handed to `onResult`. */
  run(batch: SearchBatch, onResult: OnResult): Promise<void>;
  /** Holds back problems not yet started (those in flight finish). */
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  /** Changes knobs for problems not yet started. */
  set(knobs: Knobs): void;
  stats(): SearchServiceStats;
}

/** What the service needs. */
export interface SearchServiceOptions {
  readonly bus: Bus;
  readonly run: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Deadline of one expand or score request (default 30 s); a function is asked at each send. */
  readonly requestTimeoutMs?: number | (() => number);
  /**
   * Retries of a request nobody answers before its problem fails (default 10). A request that an
   * actor answers "Unavailable" (it crashed running it and is being restarted) starts the count
   * over, up to ten times this many retries in all.
   */
  readonly maxAttempts?: number;
  /** Expansions in flight per tree (default 4). */
  readonly trialsPerTree?: number;
  /** Status, pause and knobs shared with `.control.*` (optional). */
  readonly control?: ControlState;
  /** Publish `.events.*` (default true). */
  readonly events?: boolean;
  /** Times every stage and problem (default: none). */
  readonly meter?: SearchMeter;
}

/** Per-problem knobs at the moment the problem starts. */
function effectiveConfig(batch: SearchBatch, knobs: Knobs): Partial<SearchConfig> {
  const out: Record<string, unknown> = { ...batch.config };
  if (knobs.rollouts !== undefined) out.rollouts = knobs.rollouts * (batch.rolloutScale ?? 1);
  if (knobs.k !== undefined) out.k = knobs.k;
  if (knobs.c !== undefined) out.c = knobs.c;
  return out as Partial<SearchConfig>;
}

/** Builds the search service (the Searcher actor's bus side). */
export function createSearchService(options: SearchServiceOptions): SearchService {
  const clock = options.clock ?? systemClock;
  const s = runSubjects(options.run);
  const deadline = options.requestTimeoutMs ?? 30_000;
  const timeoutMs = () => (typeof deadline === "function" ? deadline() : deadline);
  const maxAttempts = options.maxAttempts ?? 10;
  const trialsPerTree = options.trialsPerTree ?? 4;
  const emit = options.events ?? true;
  const meter = options.meter;
  let knobs: Knobs = {};
  let paused = false;
  const waiters: (() => void)[] = [];
  const counters = { problemsStarted: 0, problemsDone: 0, expandRequests: 0, scoreRequests: 0, retries: 0 };

  const isPaused = () => paused || (options.control?.paused ?? false);
  const wake = () => {
    if (!isPaused()) for (const w of waiters.splice(0)) w();
  };
  const waitUnpaused = async () => {
    while (isPaused()) await new Promise<void>((r) => waiters.push(r));
  };

  /**
   * Sends a request until it gets a reply, with capped exponential backoff and jitter (Effect
   * Schedule, seeded); the id stays the same so responders answer repeats from cache. A refused
   * request (BadRequest, VersionMismatch, TooLarge) fails at once.
   */
  async function withRetry<A extends { readonly id: string }, R>(
    subject: string,
    requestSchema: RequestSchema<A>,
    replySchema: MessageSchema<R>,
    request: A,
    seed: number,
    problemId: string,
  ): Promise<R> {
    // An actor that crashed while running the request answers "Unavailable" and is restarted:
    // something serves the subject, so such answers do not use up the attempts, only requests
    // nobody answers do (and a cap of ten times as many tries in all ends one that fails every
    // time). The delay grows either way.
    const backoff = createBackoff({ baseMs: 20, maxMs: 2000, maxAttempts: maxAttempts * 10, seed });
    let unanswered = 0;
    for (let attempt = 1;; attempt++) {
      const rep = await call(options.bus, subject, requestSchema, replySchema, request, { timeoutMs: timeoutMs() });
      if (Result.isSuccess(rep)) return rep.success;
      const err: CallError = rep.failure;
      if (!retryable(err)) throw new SearchFailed(problemId, `request refused: ${err.message}`);
      if (!(err._tag === "RemoteError" && err.code === "Unavailable")) unanswered++;
      const delay = unanswered > maxAttempts ? undefined : backoff.next();
      if (delay === undefined) {
        throw new SearchFailed(problemId, `gave up after ${attempt - 1} retries on ${subject}: ${err.message}`);
      }
      counters.retries++;
      options.log.warn(`Retrying request: ${err.message}`, { actor: "searcher", run: options.run, problem: problemId });
      await sleep(clock, delay);
    }
  }

  /** Runs `send` and, when metering, records its wall time and the reply's `workMs` in `calls`. */
  async function timed<R extends { readonly workMs?: number }>(calls: CallTiming[] | undefined, send: () => Promise<R>): Promise<R> {
    if (calls === undefined) return await send();
    const t0 = performance.now();
    const rep = await send();
    calls.push({ ms: performance.now() - t0, ...(rep.workMs === undefined ? {} : { workMs: rep.workMs }) });
    return rep;
  }

  /** Runs one stage's requests and reports the stage to the meter. */
  async function stage<T>(problemId: string, kind: StageTiming["stage"], wave: number, run: (calls: CallTiming[] | undefined) => Promise<T>): Promise<T> {
    if (meter === undefined) return await run(undefined);
    const calls: CallTiming[] = [];
    const t0 = performance.now();
    const out = await run(calls);
    if (calls.length > 0) meter.stage({ problemId, stage: kind, wave, ms: performance.now() - t0, calls });
    return out;
  }

  async function searchProblem(batch: SearchBatch, problem: Problem, config: Partial<SearchConfig>): Promise<ProblemResult> {
    const started = clock.now();
    const startedAt = performance.now();
    const temperature = options.control?.knobs.temperature ?? knobs.temperature ?? batch.temperature ?? 1;
    const topP = batch.topP ?? 1;
    const seed = requestSeed(batch.seed, batch.round, problem.id);
    const idPrefix = `${options.run}:${batch.round}${batch.pass === undefined ? "" : `/${batch.pass}`}:${problem.id}`;
    const train = batch.mode === "train";
    // Hidden variant checks (training only): a grader also runs the whole trajectory on them.
    const checks = train ? problem.checks : undefined;
    /** A training terminal with an answer that its Expander did not grade. */
    const ungraded = (c: Candidate) => train && c.terminal && c.answer !== undefined && c.reward === undefined;
    const tree = createTree(
      { id: problem.id, problem: problem.problem, ...(train ? { answer: problem.answer } : {}) },
      config,
      seed,
    );
    const machine = searcherMachine.provide({
      actors: {
        expandWave: fromPromise<WaveReply[], { tree: SearchTree; asks: Ask[]; wave: number }>(({ input }) =>
          stage(problem.id, "expand", input.wave, async (calls) => {
            // One request for the wave's asks; in training it also grades their terminals.
            counters.expandRequests++;
            const req: ExpandRequest = {
              v: PROTOCOL_VERSION,
              id: `${idPrefix}:wave:${input.wave}`,
              run: options.run,
              problem: problem.problem,
              asks: input.asks.map((a) => ({ steps: a.steps, seed: requestSeed(seed, a.trialId) })),
              k: input.tree.config.k,
              temperature,
              topP,
              ...(train ? { grade: { reference: problem.answer, ...(checks ? { checks } : {}) } } : {}),
            };
            const rep = await timed(calls, () => withRetry(s.expand, ExpandRequest, ExpandReply, req, requestSeed(seed, "retry", input.wave), problem.id));
            if (rep.results.length !== input.asks.length) throw new SearchFailed(problem.id, "expand reply does not match its request");
            return rep.results.map((r) => ({
              candidates: r.candidates.map((c) => fromWire(c, train)),
              policyVersion: r.policyVersion,
              tokens: r.tokens,
            }));
          })
        ),
        evaluateWave: fromPromise<Evaluated, { asks: Ask[]; replies: WaveReply[]; wave: number }>(async ({ input }) => {
          // PPM values of the wave's new steps, in one score request. Our Expanders grade training
          // terminals; one that left some ungraded (a worker that ignores `grade`) has them graded here.
          const items: ScoreRequest["items"][number][] = [];
          const grades: GradeItem[] = [];
          input.replies.forEach((rep, i) => {
            for (const c of rep.candidates) {
              if (batch.usePpm && c.error === undefined) items.push({ problem: problem.problem, steps: input.asks[i]!.steps, candidate: c.step });
              if (ungraded(c)) {
                grades.push({
                  answer: c.answer!,
                  reference: problem.answer,
                  ...(checks ? { steps: [...input.asks[i]!.steps, c.step], checks } : {}),
                });
              }
            }
          });
          let scored: ScoreReply | undefined;
          if (items.length > 0 || grades.length > 0) {
            counters.scoreRequests++;
            const id = `${idPrefix}:score:${input.wave}`;
            const req: ScoreRequest = { v: PROTOCOL_VERSION, id, items, ...(grades.length > 0 ? { grade: grades } : {}) };
            scored = await stage(problem.id, "score", input.wave, (calls) =>
              timed(calls, () => withRetry(s.score, ScoreRequest, ScoreReply, req, requestSeed(seed, "score", input.wave), problem.id))
            );
            if (scored.scores.length !== items.length || (scored.grades ?? []).length !== grades.length) {
              throw new SearchFailed(problem.id, "score reply does not match its request");
            }
          }
          let vi = 0;
          let gi = 0;
          const candidates = input.replies.map((rep, i) => {
            const out = rep.candidates.map((c): Candidate => {
              const value = batch.usePpm && c.error === undefined ? scored!.scores[vi++] : undefined;
              const graded = ungraded(c) ? (scored!.grades![gi++] ? 1 : -1) : c.reward;
              // A training terminal's reward is its grade; at test time a terminal's reward is its value.
              const reward = graded ?? (c.terminal && c.answer !== undefined && value !== undefined ? value : undefined);
              return { ...c, ...(reward === undefined ? {} : { reward }), ...(value === undefined ? {} : { value }) };
            });
            if (emit) {
              const a = input.asks[i]!;
              publish(options.bus, s.events("node-expanded"), NodeExpandedEvent, {
                v: PROTOCOL_VERSION,
                run: options.run,
                kind: "node-expanded",
                problemId: problem.id,
                node: a.nodeId,
                depth: a.steps.length,
                children: out.length,
                policyVersion: rep.policyVersion,
              });
            }
            return out;
          });
          return items.length > 0 && scored !== undefined ? { candidates, scorerVersion: scored.scorerVersion } : { candidates };
        }),
        finish: fromPromise<{ answer?: string; solved: boolean }, { tree: SearchTree }>(async ({ input }) => {
          const answer = chooseAnswer(input.tree, "q");
          let solved = searchStats(input.tree).solved;
          if (!train) {
            solved = false;
            if (answer !== undefined && problem.answer !== "") {
              const req: ScoreRequest = {
                v: PROTOCOL_VERSION,
                id: `${idPrefix}:final`,
                items: [],
                grade: [{ answer, reference: problem.answer }],
              };
              const rep = await stage(problem.id, "final", 0, (calls) =>
                timed(calls, () => withRetry(s.score, ScoreRequest, ScoreReply, req, requestSeed(seed, "final"), problem.id))
              );
              solved = rep.grades?.[0] === true;
            }
          }
          return answer === undefined ? { solved } : { answer, solved };
        }),
      },
    });
    const actor = createActor(machine, { input: { tree, trialsPerTree }, clock });
    actor.start();
    const out = await toPromise(actor);
    if ("error" in out) {
      throw out.error instanceof SearchFailed ? out.error : new SearchFailed(problem.id, String(out.error), { cause: out.error });
    }
    meter?.problem(problem.id, performance.now() - startedAt);
    if (emit) {
      publish(options.bus, s.events("problem-solved"), ProblemSolvedEvent, {
        v: PROTOCOL_VERSION,
        run: options.run,
        kind: "problem-solved",
        problemId: problem.id,
        round: batch.round,
        answer: out.answer ?? "",
        correct: out.solved,
        rollouts: out.tree.rolloutsDone,
      });
    }
    return {
      problemId: problem.id,
      tree: out.tree,
      solved: out.solved,
      ...(out.answer === undefined ? {} : { answer: out.answer }),
      rollouts: out.tree.rolloutsDone,
      policyVersion: out.policyVersion,
      ...(out.scorerVersion === undefined ? {} : { scorerVersion: out.scorerVersion }),
      tokens: out.tokens,
      wallMs: clock.now() - started,
    };
  }

  return {
    async run(batch, onResult) {
      const queue = [...batch.problems];
      let handing = Promise.resolve();
      let failure: unknown;
      const slot = async () => {
        while (queue.length > 0 && failure === undefined) {
          await waitUnpaused();
          const problem = queue.shift();
          if (problem === undefined) break;
          counters.problemsStarted++;
          const config = effectiveConfig(batch, { ...knobs, ...(options.control?.knobs ?? {}) });
          try {
            const result = await searchProblem(batch, problem, config);
            const mine = handing.then(() => onResult(result));
            handing = mine.catch(() => {});
            await mine;
            counters.problemsDone++;
            options.control?.setProgress(counters.problemsDone, batch.problems.length);
          } catch (err) {
            failure ??= err;
          }
        }
      };
      // A control state may outlive this service (a whole evolve run): listen only while searching.
      const unlisten = options.control?.onChange(wake);
      try {
        await Promise.all(Array.from({ length: Math.max(1, batch.concurrency ?? 8) }, slot));
      } finally {
        unlisten?.();
      }
      if (failure !== undefined) throw failure;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      wake();
    },
    get paused() {
      return isPaused();
    },
    set(next) {
      knobs = { ...knobs, ...next };
    },
    stats: () => ({ ...counters }),
  };
}

/** Failures worth another attempt: the bus, an Unavailable or Internal reply (a crashed worker). */
function retryable(err: CallError): boolean {
  if (err._tag === "BusError") return err.reason !== "Closed";
  if (err._tag === "RemoteError") return err.code === "Unavailable" || err.code === "Internal";
  return false;
}

/** A wire candidate as a search candidate; a training search takes its grade as its reward. */
function fromWire(c: ExpandReply["results"][number]["candidates"][number], graded: boolean): Candidate {
  return {
    step: { text: c.step.text, code: c.step.code },
    stdout: c.stdout,
    ...(c.error === undefined ? {} : { error: c.error as ExecError }),
    terminal: c.terminal,
    ...(c.answer === undefined ? {} : { answer: c.answer }),
    logprob: c.logprob,
    ...(graded && c.correct !== undefined ? { reward: c.correct ? 1 : -1 } : {}),
  };
}
