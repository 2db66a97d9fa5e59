/**
 * The search service the evolve coordinator calls: it searches a batch of problems over the bus
 * (ExpandRequests to Expanders, ScoreRequests to Scorers), many problems at once, and hands each
 * finished tree to the caller, one at a time, awaiting the caller before the next problem starts.
 * Pause/resume and live knob changes (`set`) apply to problems not yet started.
 */
import type { Problem } from "../math/contracts.ts";
import type { Bus } from "../protocols/bus.ts";
import type { SearchConfig, SearchTree } from "../search/types.ts";
import type { Clock } from "./clock.ts";
import type { ControlState, Knobs } from "./controlState.ts";
import type { Logger } from "./log.ts";

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
  /** Problems searched at the same time (default 8). */
  readonly concurrency?: number;
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
  /** Replies for trials already told or abandoned. */
  readonly lateReplies: number;
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
  /** Deadline of one expand or score request (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Attempts per request before the problem fails (default 6). */
  readonly maxAttempts?: number;
  /** Expansions in flight per tree (default 4). */
  readonly trialsPerTree?: number;
  /** Status, pause and knobs shared with `.control.*` (optional). */
  readonly control?: ControlState;
  /** Publish `.events.*` (default true). */
  readonly events?: boolean;
}
