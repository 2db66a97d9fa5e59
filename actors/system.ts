/**
 * Starts the actors of a run on a bus under one Supervisor: Expanders, Scorers (and the search
 * service for the searcher role), plus the `.control.*` responders. Used in-process by the evolve
 * coordinator (embedded default) and by `rstar worker`. `stop()` drains in-flight work.
 */
import type { StepExecutor, StepProposer, StepScorer } from "../math/contracts.ts";
import type { BlobStore, Bus, Subscription } from "../protocols/bus.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { ChildSpec } from "./childMachine.ts";
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import { checkKnob, ControlState } from "./controlState.ts";
import type { CrashInjector } from "./crashInjector.ts";
import { noCrashes } from "./crashInjector.ts";
import type { ExpanderHandle } from "./expander.ts";
import { startExpander } from "./expander.ts";
import { codecLogTo, type Logger } from "./log.ts";
import { ReplyCache } from "./replyCache.ts";
import type { Grader } from "./scorer.ts";
import { startScorer } from "./scorer.ts";
import { startTrainer } from "./trainer.ts";
import type { ProblemResult, SearchService } from "./searchService.ts";
import { hashString } from "../math/prng.ts";
import { pathIds } from "../search/SearchTree.ts";
import { bestTerminal } from "../search/extract.ts";
import type { SearchTree } from "../search/types.ts";
import { createSearchService } from "./searchService.ts";
import type { Supervisor, SupervisorFailed } from "./supervisorMachine.ts";
import { startSupervisor } from "./supervisorMachine.ts";
import { listen, ProtocolError, publish, serve } from "../protocols/codec.ts";
import type { ExpandReply, RunStateReply } from "../protocols/messages.ts";
import {
  ChaosReply,
  ChaosRequest,
  Heartbeat,
  PauseReply,
  PauseRequest,
  PROTOCOL_VERSION,
  ResumeReply,
  ResumeRequest,
  SetReply,
  SetRequest,
  SolveReply,
  SolveRequest,
  StatusReply,
  StatusRequest,
} from "../protocols/messages.ts";
import { QueueGroups, runSubjects } from "../protocols/subjects.ts";
import { type ChaosControl, chaosControlHandler } from "../protocols/chaosBus.ts";

/** A role an actor plays. */
export type Role = "expander" | "scorer" | "trainer" | "searcher";

/** What `startSystem` needs. */
export interface SystemOptions {
  readonly bus: Bus;
  readonly blobs: BlobStore;
  readonly run: string;
  readonly roles: readonly Role[];
  readonly policy: StepProposer;
  readonly scorer: StepScorer | undefined;
  readonly executor: StepExecutor;
  readonly log: Logger;
  readonly grade: Grader;
  /** Loads a published policy version (default: keep the current policy). */
  readonly loadPolicy?: (version: string) => Promise<StepProposer>;
  readonly loadScorer?: (version: string) => Promise<StepScorer>;
  readonly clock?: Clock;
  readonly crash?: CrashInjector;
  /** Expanders to run in this process (default 1). */
  readonly expanders?: number;
  readonly maxBatch?: number;
  readonly maxWaitMs?: number;
  readonly restart?: BackoffOptions;
  /** Worker id prefix (default "local"). */
  readonly id?: string;
  readonly control?: ControlState;
  /** Answer `.control.*` (default: when the searcher role runs here). */
  readonly serveControl?: boolean;
  /**
   * Answer `.control.solve` with this system's searcher (default true); false where another
   * responder answers it for the whole run, as `rstar evolve --nats` does.
   */
  readonly serveSolve?: boolean;
  /** What `.control.chaos` changes (a `ChaosBus`, say); without it that verb is not answered here. */
  readonly chaos?: ChaosControl;
  /** Deadline of one expand or score request (default 30 s); a function is asked at each send. */
  readonly requestTimeoutMs?: number | (() => number);
  /** Heartbeat period on `.heartbeat` (default 2000 ms; 0 = none). */
  readonly heartbeatMs?: number;
}

/** A started system. */
export interface SystemHandle {
  readonly control: ControlState;
  /** The search service (searcher role only). */
  readonly search: SearchService | undefined;
  readonly supervisor: Supervisor;
  /** Resolves when the Supervisor gives up (with the failure) or stops. */
  readonly done: Promise<SupervisorFailed | undefined>;
  /** Expand batches run so far in this process, and their sizes summed. */
  batchStats(): { batches: number; requests: number };
  /** Drains in-flight work, then stops every actor. */
  stop(): Promise<void>;
}

/** Starts the actors for `roles` on the bus. */
export function startSystem(options: SystemOptions): SystemHandle {
  const clock = options.clock ?? systemClock;
  const crash = options.crash ?? noCrashes;
  const id = options.id ?? "local";
  const control = options.control ?? new ControlState(options.run);
  const cache = new ReplyCache<ExpandReply>(clock, 60_000);
  const batches = { batches: 0, requests: 0 };
  const specs: ChildSpec[] = [];
  const expanders: (ExpanderHandle | undefined)[] = [];
  let currentPolicy = options.policy;
  const loadPolicy = async (version: string) => {
    if (options.loadPolicy === undefined) throw new Error(`Cannot load policy ${version}: no loader configured`);
    currentPolicy = await options.loadPolicy(version);
    return currentPolicy;
  };
  if (options.roles.includes("expander")) {
    for (let i = 0; i < (options.expanders ?? 1); i++) {
      specs.push({
        name: `expander-${i}`,
        start: async () => {
          const h = await startExpander({
            bus: options.bus,
            run: options.run,
            id: `${id}-expander-${i}`,
            policy: currentPolicy,
            executor: options.executor,
            loadPolicy,
            log: options.log,
            clock,
            crash,
            cache,
            grade: options.grade,
            ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
            ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
            onBatch: (size) => {
              batches.batches++;
              batches.requests += size;
            },
          });
          expanders[i] = h;
          return h;
        },
      });
    }
  }
  if (options.roles.includes("scorer")) {
    let scorer = options.scorer;
    specs.push({
      name: "scorer",
      start: () =>
        startScorer({
          bus: options.bus,
          run: options.run,
          id: `${id}-scorer`,
          scorer,
          loadScorer: async (version) => {
            if (options.loadScorer === undefined) throw new Error(`Cannot load scorer ${version}: no loader configured`);
            scorer = await options.loadScorer(version);
            return scorer;
          },
          grade: options.grade,
          log: options.log,
          clock,
          crash,
        }),
    });
  }
  if (options.roles.includes("trainer")) {
    specs.push({
      name: "trainer",
      start: () => startTrainer({ bus: options.bus, blobs: options.blobs, run: options.run, log: options.log, now: () => clock.now() }),
    });
  }
  const supervisor = startSupervisor({
    specs,
    options: {
      backoff: options.restart ?? { baseMs: 50, maxMs: 5000, maxAttempts: 8, seed: 1 },
      now: () => clock.now(),
      log: options.log.child({ actor: "supervisor", run: options.run }),
    },
  }, clock);
  const search = options.roles.includes("searcher")
    ? createSearchService({
      bus: options.bus,
      run: options.run,
      log: options.log,
      clock,
      control,
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    })
    : undefined;
  const subs: Subscription[] = [];
  // Heartbeats: each local actor announces itself; the control side records who it hears.
  const heartbeatMs = options.heartbeatMs ?? 2000;
  const hbTimer: { handle: unknown } = { handle: undefined };
  const beat = () => {
    const models: Record<string, string> = { policy: currentPolicy.version };
    if (options.scorer !== undefined) models.ppm = options.scorer.version;
    for (const spec of specs) {
      const role = spec.name.startsWith("expander") ? "expander" as const : spec.name as "scorer" | "trainer";
      publish(options.bus, runSubjects(options.run).heartbeat, Heartbeat, {
        v: PROTOCOL_VERSION,
        actor: `${id}-${spec.name}`,
        role,
        pid: Deno.pid,
        host: Deno.hostname(),
        load: 0,
        versions: models,
        at: clock.now(),
      });
    }
    if (heartbeatMs > 0 && supervisor.actor.getSnapshot().status === "active") {
      hbTimer.handle = clock.setTimeout(beat, heartbeatMs);
    }
  };
  if (heartbeatMs > 0 && specs.length > 0) beat();
  void supervisor.done.then(() => {
    if (hbTimer.handle !== undefined) clock.clearTimeout(hbTimer.handle);
    hbTimer.handle = undefined;
  });
  if (options.serveControl ?? options.roles.includes("searcher")) {
    subs.push(...serveControl(options, control, () => {
      control.setModel("policy", currentPolicy.version);
      return expanders.filter((e) => e !== undefined).length;
    }, search));
    subs.push(listen(options.bus, runSubjects(options.run).heartbeat, Heartbeat, (hb) => {
      control.seeWorker({ id: hb.actor, role: hb.role, host: hb.host, pid: hb.pid, load: hb.load, lastSeen: clock.now() });
      for (const [name, version] of Object.entries(hb.versions)) control.setModel(name, version);
    }, { log: codecLogTo(options.log) }));
  }
  return {
    control,
    search,
    supervisor,
    done: supervisor.done,
    batchStats: () => ({ ...batches }),
    async stop() {
      if (hbTimer.handle !== undefined) clock.clearTimeout(hbTimer.handle);
      for (const sub of subs) sub.unsubscribe();
      await supervisor.stop();
    },
  };
}

/**
 * Answers `.control.status|pause|resume|set` from `control` on `bus` (queue group `control`):
 * the verbs that read or change the run's state alone. `refresh` runs before each status reply.
 */
export function serveControlState(
  bus: Bus,
  run: string,
  control: ControlState,
  log: Logger,
  clock: Clock = systemClock,
  refresh: () => void = () => {},
): Subscription[] {
  const s = runSubjects(run);
  const opts = { queue: QueueGroups.control, log: codecLogTo(log) };
  const state = () => (control.paused ? "paused" as const : "running" as const);
  return [
    serve(bus, s.control("status"), StatusRequest, (req): StatusReply => {
      refresh();
      const snap = control.snapshot();
      const now = clock.now();
      return {
        v: PROTOCOL_VERSION,
        id: req.id,
        run: snap.run,
        round: snap.round,
        phase: snap.phase,
        paused: snap.paused,
        progress: snap.progress,
        workers: snap.workers.map((w) => ({
          actor: w.id,
          role: w.role as StatusReply["workers"][number]["role"],
          host: w.host ?? "local",
          pid: w.pid ?? 0,
          load: w.load ?? 0,
          lastSeenMs: Math.max(0, now - w.lastSeen),
        })),
        models: snap.models,
        knobs: { ...snap.knobs } as Record<string, number>,
        ...(snap.chaos === undefined ? {} : { chaos: snap.chaos }),
      };
    }, { ...opts, replySchema: StatusReply }),
    serve(bus, s.control("pause"), PauseRequest, (req): RunStateReply => {
      control.setPaused(true);
      return { v: PROTOCOL_VERSION, id: req.id, state: state() };
    }, { ...opts, replySchema: PauseReply }),
    serve(bus, s.control("resume"), ResumeRequest, (req): RunStateReply => {
      control.setPaused(false);
      return { v: PROTOCOL_VERSION, id: req.id, state: state() };
    }, { ...opts, replySchema: ResumeReply }),
    serve(bus, s.control("set"), SetRequest, (req): SetReply | ProtocolError => {
      const knob = checkKnob(req.key, req.value);
      if ("_tag" in knob) return new ProtocolError({ code: "BadRequest", message: knob.message });
      const previous = control.knobs[knob.key];
      control.setKnob(knob.key, knob.value);
      return { v: PROTOCOL_VERSION, id: req.id, key: knob.key, value: knob.value, ...(previous === undefined ? {} : { previous }) };
    }, { ...opts, replySchema: SetReply }),
  ];
}

/** Answers `.control.status|pause|resume|set|solve` from the ControlState, and `chaos` when given. */
function serveControl(
  options: SystemOptions,
  control: ControlState,
  refresh: () => number,
  search: SearchService | undefined,
): Subscription[] {
  const s = runSubjects(options.run);
  const log = options.log.child({ actor: "control", run: options.run });
  const opts = { queue: QueueGroups.control, log: codecLogTo(log) };
  return [
    ...serveControlState(options.bus, options.run, control, log, options.clock ?? systemClock, refresh),
    ...(options.serveSolve === false ? [] : [
      serve(options.bus, s.control("solve"), SolveRequest, async (req): Promise<SolveReply | ProtocolError> => {
        if (search === undefined) return new ProtocolError({ code: "Unavailable", message: "Ask a searcher: this system does not search" });
        let result: ProblemResult | undefined;
        const id = `solve-${hashString(req.id)[0]}`;
        await search.run({
          round: 0,
          mode: "test",
          problems: [{ id, family: "external", level: 0, problem: req.problem, answer: "" }],
          config: req.rollouts === undefined ? {} : { rollouts: req.rollouts },
          usePpm: options.scorer !== undefined,
          seed: hashString(req.problem)[0],
          concurrency: 1,
        }, (r) => {
          result = r;
          return Promise.resolve();
        });
        const versions: Record<string, string> = { policy: result!.policyVersion };
        if (result!.scorerVersion !== undefined) versions.ppm = result!.scorerVersion;
        return solveReply(req.id, result!.tree, result!.answer, versions);
      }, { ...opts, replySchema: SolveReply }),
    ]),
    ...(options.chaos === undefined
      ? []
      : [serve(options.bus, s.control("chaos"), ChaosRequest, chaosControlHandler(options.chaos), { ...opts, replySchema: ChaosReply })]),
  ];
}

/** The `.control.solve` reply for a searched problem: its answer and the path of steps that gave it. */
export function solveReply(id: string, tree: SearchTree, answer: string | undefined, versions: Record<string, string>): SolveReply {
  const best = bestTerminal(tree, answer);
  const path = best === undefined ? [] : pathIds(tree, best.id);
  return {
    v: PROTOCOL_VERSION,
    id,
    answer: answer ?? "",
    steps: path.map((i) => tree.nodes[i]!.step),
    outputs: path.map((i) => tree.nodes[i]!.stdout.trimEnd()),
    ...(best?.value === undefined ? {} : { value: best.value }),
    versions,
  };
}
