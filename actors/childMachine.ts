/**
 * The lifecycle of one supervised actor: start it, watch it (its exit and its heartbeats),
 * restart it after a crash or a missed heartbeat with capped exponential backoff and jitter
 * (`backoff.ts`, an Effect Schedule), and give up with an error naming the actor and its last
 * failure once it has crashed the backoff's `maxAttempts` times in a row without doing any work
 * (answering a request, or running `resetAfterMs`): an actor that crashes now and then but
 * serves between crashes is restarted for as long as it keeps serving. Spawned by `supervisorMachine.ts`, one per actor.
 */
import { assign, fromPromise, sendParent, setup } from "xstate";
import type { Backoff, BackoffOptions } from "./backoff.ts";
import { createBackoff } from "./backoff.ts";
import type { Logger } from "./log.ts";

/** How an actor ended: `error` set means it crashed. */
export interface ChildExit {
  readonly error?: unknown;
}

/** A running actor as the supervisor sees it. */
export interface ChildHandle {
  /** Resolves when the actor stops, by itself or after `stop()`. */
  readonly exited: Promise<ChildExit>;
  /** Drains and stops the actor. */
  stop(): Promise<void>;
  /** Time of the actor's last sign of life (clock ms); omit to skip heartbeat checks. */
  lastHeartbeat?(): number;
  /**
   * Requests answered since this start. An actor that answered any before it crashed was doing
   * its work, so its restart backoff starts over (as after `resetAfterMs` of running).
   */
  served?(): number;
}

/** How to start one actor. */
export interface ChildSpec {
  /** Actor name, used in logs and errors ("expander", "scorer-2"). */
  readonly name: string;
  start(): Promise<ChildHandle>;
}

/** Supervision knobs. */
export interface SupervisionOptions {
  readonly backoff: BackoffOptions;
  /** A heartbeat older than this counts as a crash (default: no heartbeat checks). */
  readonly heartbeatTimeoutMs?: number;
  /** Time between heartbeat checks (default 1000 ms). */
  readonly heartbeatCheckMs?: number;
  /** Running this long without a crash, or answering a request, resets the backoff (default 30 s). */
  readonly resetAfterMs?: number;
  readonly now: () => number;
  readonly log: Logger;
}

/** Input of one child machine. */
export interface ChildInput {
  readonly spec: ChildSpec;
  readonly options: SupervisionOptions;
}

interface ChildContext extends ChildInput {
  handle: ChildHandle | undefined;
  backoff: Backoff;
  restarts: number;
  startedAt: number;
  lastFailure: string | undefined;
  nextDelayMs: number;
  /** Set on entering `failed`. */
  gaveUp: boolean;
}

/** How a child ended (its machine's output): `failure` when it gave up restarting its actor. */
export interface ChildOutput {
  readonly name: string;
  readonly failure?: string;
}

/** Events a child machine accepts. */
export type ChildEvent = { type: "stop" } | { type: "heartbeat.check" };

/** The message of a failure value. */
export function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One supervised actor. */
export const childMachine = setup({
  types: {
    context: {} as ChildContext,
    events: {} as ChildEvent,
    input: {} as ChildInput,
    output: {} as ChildOutput,
  },
  actors: {
    startChild: fromPromise<ChildHandle, { spec: ChildSpec }>(({ input }) => input.spec.start()),
    watchChild: fromPromise<ChildExit, { handle: ChildHandle }>(({ input }) => input.handle.exited),
    stopChild: fromPromise<void, { handle: ChildHandle | undefined }>(async ({ input }) => {
      if (input.handle !== undefined) await input.handle.stop();
    }),
  },
  delays: {
    restartDelay: ({ context }) => Math.max(0, context.nextDelayMs),
    heartbeatCheck: ({ context }) => context.options.heartbeatCheckMs ?? 1000,
  },
  guards: {
    heartbeatStale: ({ context }) => {
      const limit = context.options.heartbeatTimeoutMs;
      const beat = context.handle?.lastHeartbeat?.();
      return limit !== undefined && beat !== undefined && context.options.now() - beat > limit;
    },
    checksHeartbeat: ({ context }) => context.options.heartbeatTimeoutMs !== undefined,
  },
  actions: {
    recordFailure: assign(({ context }, params: { error: unknown }) => {
      const healthy = (context.handle?.served?.() ?? 0) > 0 ||
        context.options.now() - context.startedAt >= (context.options.resetAfterMs ?? 30_000);
      const backoff = healthy ? createBackoff(context.options.backoff) : context.backoff;
      const delay = backoff.next();
      const lastFailure = describeFailure(params.error);
      context.options.log.warn(`Actor crashed: ${lastFailure}`, { actor: context.spec.name, restarts: context.restarts });
      return { backoff, lastFailure, nextDelayMs: delay ?? -1, handle: undefined };
    }),
  },
}).createMachine({
  id: "child",
  context: ({ input }) => ({
    ...input,
    handle: undefined,
    backoff: createBackoff(input.options.backoff),
    restarts: 0,
    startedAt: 0,
    lastFailure: undefined,
    nextDelayMs: 0,
    gaveUp: false,
  }),
  initial: "starting",
  states: {
    starting: {
      on: { stop: "stopped" },
      invoke: {
        src: "startChild",
        input: ({ context }) => ({ spec: context.spec }),
        onDone: {
          target: "running",
          actions: [
            assign({ handle: ({ event }) => event.output, startedAt: ({ context }) => context.options.now() }),
            sendParent(({ context }) => ({ type: "child.started", name: context.spec.name, restarts: context.restarts })),
          ],
        },
        onError: {
          target: "backoff",
          actions: { type: "recordFailure", params: ({ event }) => ({ error: event.error }) },
        },
      },
    },
    running: {
      on: { stop: "stopping" },
      invoke: {
        src: "watchChild",
        input: ({ context }) => ({ handle: context.handle! }),
        onDone: [
          {
            guard: ({ event }) => event.output.error === undefined,
            target: "stopped",
          },
          {
            target: "backoff",
            actions: { type: "recordFailure", params: ({ event }) => ({ error: event.output.error }) },
          },
        ],
        onError: {
          target: "backoff",
          actions: { type: "recordFailure", params: ({ event }) => ({ error: event.error }) },
        },
      },
      initial: "healthy",
      states: {
        healthy: {
          after: {
            heartbeatCheck: [
              { guard: "heartbeatStale", target: "#child.killing" },
              { guard: "checksHeartbeat", target: "healthy", reenter: true },
            ],
          },
        },
      },
    },
    killing: {
      // A missed heartbeat: stop what is left of the actor, then restart it.
      invoke: {
        src: "stopChild",
        input: ({ context }) => ({ handle: context.handle }),
        onDone: {
          target: "backoff",
          actions: { type: "recordFailure", params: () => ({ error: new Error("Missed heartbeat") }) },
        },
        onError: {
          target: "backoff",
          actions: { type: "recordFailure", params: () => ({ error: new Error("Missed heartbeat") }) },
        },
      },
    },
    backoff: {
      on: { stop: "stopped" },
      always: { guard: ({ context }) => context.nextDelayMs < 0, target: "failed" },
      after: {
        restartDelay: {
          target: "starting",
          actions: assign({ restarts: ({ context }) => context.restarts + 1 }),
        },
      },
    },
    stopping: {
      invoke: {
        src: "stopChild",
        input: ({ context }) => ({ handle: context.handle }),
        onDone: "stopped",
        onError: "stopped",
      },
    },
    // The parent learns of both ends from xstate's done event and the output below (a message sent
    // on entry would reach it first, and a parent that then finished would get the done event
    // after it had stopped).
    failed: {
      type: "final",
      entry: assign({ gaveUp: true }),
    },
    stopped: { type: "final" },
  },
  output: ({ context }): ChildOutput => ({
    name: context.spec.name,
    ...(context.gaveUp
      ? {
        failure: `Cannot keep ${context.spec.name} running: gave up after ${context.restarts} restarts: last failure: ${
          context.lastFailure ?? "unknown"
        }`,
      }
      : {}),
  }),
});
