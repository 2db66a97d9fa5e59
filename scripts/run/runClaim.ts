/**
 * A run name's claim on a NATS server. Two evolve processes that used the same run name
 * (`rstar.<run>.*`, object store `rstar-<run>`) on one server would serve each other's requests
 * with their own weights, so `rstar evolve --nats` claims its name first: a key in the JetStream
 * key-value bucket `rstar-runs`, renewed every 10 s and kept by the server for 30 s after the last
 * renewal. A claim whose holder on this host is gone (SIGKILL, a crash) is taken over at once; one
 * held from another host frees itself 30 s after its holder stops.
 */
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { holderAlive, type LockHolder, thisProcess } from "./runDirectory.ts";

/** The bucket of run-name claims. */
export const CLAIMS_BUCKET = "rstar-runs";
/** How long the server keeps a claim after its last renewal. */
const CLAIM_TTL_MS = 30_000;
/** How often the holder renews its claim. */
const RENEW_MS = 10_000;

/** Who holds a run name: the lock holder, and the run directory it runs. */
export interface RunNameHolder extends LockHolder {
  readonly dir: string;
}

/** A held claim. */
export interface RunClaim {
  /** Stops renewing and removes the claim (if it is still this one). */
  release(): Promise<void>;
}

/** The run name is held by another live process. */
export interface RunNameTaken {
  readonly _tag: "RunNameTaken";
  readonly holder: RunNameHolder;
  readonly message: string;
}

/** Who holds `run` on the server now (the claim's last writer), or undefined when nobody does. */
export async function runNameHolder(nc: NatsConnection, run: string): Promise<RunNameHolder | undefined> {
  try {
    const entry = await (await new Kvm(nc).open(CLAIMS_BUCKET)).get(run);
    return entry && entry.operation === "PUT" ? JSON.parse(entry.string()) as RunNameHolder : undefined;
  } catch {
    return undefined; // no bucket yet (no run has claimed a name on this server), or unreadable
  }
}

/**
 * Claims `run` on the server for this process, which runs `dir`; a live holder is a
 * `RunNameTaken` naming it. `warn` hears of the first of a row of renewals that failed.
 */
export async function claimRunName(
  nc: NatsConnection,
  run: string,
  dir: string,
  warn: (line: string) => void,
): Promise<RunClaim | RunNameTaken> {
  const kv = await new Kvm(nc).create(CLAIMS_BUCKET, { ttl: CLAIM_TTL_MS, history: 1 });
  const me: RunNameHolder = { ...thisProcess(), dir };
  const bytes = () => new TextEncoder().encode(JSON.stringify(me));
  let revision: number;
  try {
    revision = await kv.create(run, bytes());
  } catch {
    const entry = await kv.get(run);
    let holder: RunNameHolder | undefined;
    try {
      holder = entry && entry.operation === "PUT"
        ? JSON.parse(entry.string()) as RunNameHolder
        : undefined;
    } catch {
      holder = undefined; // unreadable: take it over
    }
    if (holder !== undefined && holderAlive(holder)) {
      return {
        _tag: "RunNameTaken",
        holder,
        message:
          `Cannot run over NATS: run name ${run} is in use by process ${holder.pid} on ${holder.host} (${holder.dir}) since ${holder.since}; ` +
          `give this run another directory name, or wait: the name is free 30 s after that process stops`,
      };
    }
    // The holder is gone: take the claim over (a deleted or expired key is created anew).
    revision = entry && entry.operation === "PUT"
      ? await kv.update(run, bytes(), entry.revision)
      : await kv.create(run, bytes());
  }
  // A renewal that fails (no server, or the key expired while it was away) creates the claim
  // anew where it can; the first failure in a row is reported, and so is the renewal that ends it.
  let failing = false;
  let released = false;
  const renewed = () => {
    if (failing) warn(`run name ${run}: its claim on NATS is renewed`);
    failing = false;
  };
  const renew = async () => {
    if (released) return;
    try {
      revision = await kv.update(run, bytes(), revision);
      renewed();
    } catch (err) {
      if (released) return;
      try {
        revision = await kv.create(run, bytes());
        renewed();
      } catch {
        if (!failing) {
          warn(
            `run name ${run}: cannot renew its claim on NATS (${
              err instanceof Error ? err.message : String(err)
            })`,
          );
        }
        failing = true;
      }
    }
  };
  const timer = setInterval(() => void renew(), RENEW_MS);
  Deno.unrefTimer(timer);
  return {
    async release() {
      released = true;
      clearInterval(timer);
      await kv.delete(run, { previousSeq: revision }).catch(() => {});
    },
  };
}
