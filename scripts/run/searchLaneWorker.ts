/**
 * A search lane, run as a Deno Worker by scripts/run/searchLanes.ts (protocol there): the
 * bootstrap proposer, the safe executor and the actors on an in-process bus, searching the
 * problems it is sent and posting each one's record.
 */
import { SafeExecutor } from "../../math/interpreter.ts";
import { BootstrapPolicy } from "../../models/bootstrapPolicy.ts";
import { InProcessBus } from "../../protocols/inProcessBus.ts";
import { searchWithActors } from "./actorSearch.ts";
import type { FromLane, ToLane } from "./searchLanes.ts";

/** The parts of the worker global scope used here. */
interface WorkerScope {
  onmessage: ((e: MessageEvent<ToLane>) => void) | null;
  postMessage(m: FromLane): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = async (e) => {
  const m = e.data;
  const bus = new InProcessBus();
  try {
    if (m.req.policy.kind !== "bootstrap") throw new Error(`a lane searches with the bootstrap policy, not ${m.req.policy.kind}`);
    const { retries } = await searchWithActors(m.req, {
      bus,
      run: m.run,
      policy: new BootstrapPolicy(),
      scorer: undefined,
      executor: new SafeExecutor(),
      requestTimeoutMs: () => m.requestTimeoutMs,
    }, (outcome) => {
      scope.postMessage({ type: "outcome", outcome });
      return Promise.resolve();
    });
    scope.postMessage({ type: "done", retries });
  } catch (err) {
    scope.postMessage({ type: "failed", message: err instanceof Error ? err.message : String(err) });
  } finally {
    await bus.close();
  }
};
