/**
 * Restart and retry delays: capped exponential backoff with jitter, built as an Effect `Schedule`
 * and stepped one delay at a time. Jitter draws from a seeded Effect `Random`, so a seed fixes
 * every delay.
 */
import { Duration, Effect, Exit, Random, Schedule } from "effect";
import { Prng } from "../math/prng.ts";

/** Knobs of a backoff. */
export interface BackoffOptions {
  /** First delay before jitter, in ms. */
  readonly baseMs: number;
  /** Largest delay before jitter, in ms. */
  readonly maxMs: number;
  /** Delays handed out before the backoff gives up. */
  readonly maxAttempts: number;
  readonly seed: number;
}

/** Hands out successive delays; `next()` is undefined once the attempts are spent. */
export interface Backoff {
  next(): number | undefined;
  /** Delays handed out so far. */
  readonly attempts: number;
}

/** The schedule: exponential from `baseMs`, capped at `maxMs`, jittered, at most `maxAttempts`. */
export function backoffSchedule(options: BackoffOptions): Schedule.Schedule<Duration.Duration> {
  return Schedule.min([
    Schedule.exponential(Duration.millis(options.baseMs)),
    Schedule.spaced(Duration.millis(options.maxMs)),
  ]).pipe(Schedule.jittered, Schedule.upTo({ times: options.maxAttempts }));
}

/** A stepper over `backoffSchedule(options)`. */
export function createBackoff(options: BackoffOptions): Backoff {
  const step = Effect.runSync(Schedule.toStep(backoffSchedule(options)));
  const rng = Prng.fromSeed(options.seed);
  let attempts = 0;
  let done = false;
  return {
    next() {
      if (done) return undefined;
      const exit = Effect.runSyncExit(Random.withSeed(step(0, undefined), rng.nextU32()));
      if (Exit.isFailure(exit)) {
        done = true;
        return undefined;
      }
      attempts++;
      return Duration.toMillis(exit.value[1]);
    },
    get attempts() {
      return attempts;
    },
  };
}
