/**
 * The Supervisor: an XState parent that spawns one `childMachine` per actor (Expander, Scorer,
 * Trainer, ...), each of which restarts its actor with backoff. The Supervisor stops everything
 * and ends in `failed` (output: the error naming the actor and its last failure) when any child
 * gives up, and in `stopped` after `stop` once every child has drained.
 */
import { assign, createActor, setup } from "xstate";
import type { Actor } from "xstate";
import type { ChildOutput, ChildSpec, SupervisionOptions } from "./childMachine.ts";
import { childMachine } from "./childMachine.ts";
import type { Clock } from "./clock.ts";

/**
 * Events the Supervisor accepts: `child.started` comes from its children, and xstate sends
 * `xstate.done.actor.NAME` with the child's output when one ends (stopped, or gave up).
 */
export type SupervisorEvent =
  | { type: "stop" }
  | { type: "child.started"; name: string; restarts: number }
  | { type: `xstate.done.actor.${string}`; output: ChildOutput };

/** Input: the actors to supervise and how. */
export interface SupervisorInput {
  readonly specs: readonly ChildSpec[];
  readonly options: SupervisionOptions;
}

interface SupervisorContext extends SupervisorInput {
  running: string[];
  restarts: Record<string, number>;
  failure: string | undefined;
}

/** Why the Supervisor gave up. */
export interface SupervisorFailed {
  readonly _tag: "SupervisorFailed";
  readonly actor: string;
  readonly message: string;
}

/** The Supervisor machine. */
export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: { child: childMachine },
  actions: {
    /** On a child's done event: it no longer runs. */
    forgetChild: assign({
      running: ({ context, event }) => ("output" in event ? context.running.filter((n) => n !== event.output.name) : context.running),
    }),
    stopChildren: ({ context, self }) => {
      // Only the children still running: one that ended is gone (or about to be).
      for (const name of context.running) {
        const ref = self.getSnapshot().children[name];
        if (ref !== undefined) (ref as { send(e: { type: "stop" }): void }).send({ type: "stop" });
      }
    },
  },
}).createMachine({
  id: "supervisor",
  context: ({ input, spawn }) => {
    for (const spec of input.specs) {
      spawn("child", { id: spec.name, input: { spec, options: input.options } });
    }
    return { ...input, running: input.specs.map((s) => s.name), restarts: {}, failure: undefined };
  },
  initial: "supervising",
  states: {
    supervising: {
      on: {
        "child.started": {
          actions: assign({ restarts: ({ context, event }) => ({ ...context.restarts, [event.name]: event.restarts }) }),
        },
        "xstate.done.actor.*": [
          {
            guard: ({ event }) => event.output.failure !== undefined,
            target: "failing",
            actions: [assign({ failure: ({ event }) => event.output.failure }), "forgetChild"],
          },
          { guard: ({ context }) => context.running.length === 1, target: "stopped", actions: "forgetChild" },
          { actions: "forgetChild" },
        ],
        stop: "stopping",
      },
    },
    failing: {
      entry: "stopChildren",
      always: { guard: ({ context }) => context.running.length === 0, target: "failed" },
      on: { "xstate.done.actor.*": { actions: "forgetChild" } },
    },
    stopping: {
      entry: "stopChildren",
      always: { guard: ({ context }) => context.running.length === 0, target: "stopped" },
      on: { "xstate.done.actor.*": { actions: "forgetChild" } },
    },
    failed: { type: "final" },
    stopped: { type: "final" },
  },
  output: ({ context }) => ({ failure: context.failure }),
});

/** A started Supervisor. */
export interface Supervisor {
  readonly actor: Actor<typeof supervisorMachine>;
  /** Resolves when the Supervisor ends: with the failure when a child gave up. */
  readonly done: Promise<SupervisorFailed | undefined>;
  /** Restarts seen so far per actor. */
  restarts(): Record<string, number>;
  /** Stops every actor (each drains) and resolves once all have stopped. */
  stop(): Promise<SupervisorFailed | undefined>;
}

/** Starts a Supervisor over the given actors. */
export function startSupervisor(input: SupervisorInput, clock?: Clock): Supervisor {
  const actor = createActor(supervisorMachine, { input, ...(clock === undefined ? {} : { clock }) });
  const done = new Promise<SupervisorFailed | undefined>((resolve) => {
    actor.subscribe({
      next: (snap) => {
        if (snap.status !== "done") return;
        const failure = snap.context.failure;
        if (failure === undefined) return resolve(undefined);
        const actorName = /Cannot keep (\S+) running/.exec(failure)?.[1] ?? "unknown";
        resolve({ _tag: "SupervisorFailed", actor: actorName, message: failure });
      },
      error: (err) => resolve({ _tag: "SupervisorFailed", actor: "supervisor", message: String(err) }),
    });
  });
  actor.start();
  return {
    actor,
    done,
    restarts: () => actor.getSnapshot().context.restarts,
    stop: () => {
      if (actor.getSnapshot().status === "active") actor.send({ type: "stop" });
      return done;
    },
  };
}


