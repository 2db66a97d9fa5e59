/**
 * Actor-level fault injection (chaos mode): makes a chosen actor throw at a given rate, drawn
 * from a seeded PRNG, so a chaos run is repeatable. Actors call `maybeCrash(name)` at the top of
 * each unit of work; the Supervisor sees the crash and restarts the actor.
 */
import { Prng } from "../math/prng.ts";

/** The error an injected crash throws (a deliberate bug, so it is thrown, not returned). */
export class InjectedCrash extends Error {
  readonly _tag = "InjectedCrash";
  constructor(readonly actor: string, readonly count: number) {
    super(`Injected crash in ${actor}: crash number ${count}`);
    this.name = "InjectedCrash";
  }
}

/** Makes actors throw at their configured rate. */
export interface CrashInjector {
  /** Throws `InjectedCrash` with the actor's rate; returns otherwise. */
  maybeCrash(actor: string): void;
  /** Changes (or sets) an actor's rate at run time. */
  setRate(actor: string, rate: number): void;
  /** Crashes injected so far, per actor. */
  counts(): Record<string, number>;
}

/** Options: per-actor crash probability per unit of work, plus a seed. */
export interface CrashInjectorOptions {
  readonly seed: number;
  readonly rates: Readonly<Record<string, number>>;
  /** Stop injecting after this many crashes per actor (default unlimited). */
  readonly maxPerActor?: number;
}

/** Builds a crash injector. */
export function createCrashInjector(options: CrashInjectorOptions): CrashInjector {
  const rates = new Map(Object.entries(options.rates));
  for (const [actor, rate] of rates) checkRate(actor, rate);
  const rngs = new Map<string, Prng>();
  const counts = new Map<string, number>();
  const root = Prng.fromSeed(options.seed);
  const limit = options.maxPerActor ?? Number.POSITIVE_INFINITY;
  return {
    maybeCrash(actor) {
      const rate = rates.get(actor) ?? 0;
      if (rate <= 0) return;
      let rng = rngs.get(actor);
      if (rng === undefined) {
        rng = root.fork(actor);
        rngs.set(actor, rng);
      }
      const count = counts.get(actor) ?? 0;
      if (rng.float() < rate && count < limit) {
        counts.set(actor, count + 1);
        throw new InjectedCrash(actor, count + 1);
      }
    },
    setRate(actor, rate) {
      checkRate(actor, rate);
      rates.set(actor, rate);
    },
    counts: () => Object.fromEntries(counts),
  };
}

/** An injector that never crashes anything. */
export const noCrashes: CrashInjector = createCrashInjector({ seed: 0, rates: {} });

function checkRate(actor: string, rate: number): void {
  if (!(rate >= 0 && rate <= 1)) {
    throw new RangeError(`Cannot set crash rate for ${actor}: ${rate} is outside [0, 1]`);
  }
}
