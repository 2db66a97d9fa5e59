/**
 * Search lanes: a bootstrap round's problems split between this thread and worker threads, each
 * lane a whole actor system (Searcher, Expander, Scorer on its own in-process bus) over its share.
 * The bootstrap proposer is plain JavaScript on one thread, so one system keeps one core busy;
 * lanes put the second core to work (`generateThreads`). Every problem's tree depends only on the
 * problem and the round's seed, so the lanes find what one system finds, in another order.
 *
 * Protocol (structured clone): the main thread posts one `ToLane` and the worker answers with an
 * `outcome` per finished problem, then `done` (or `failed`), and is terminated.
 */
import type { SearchOutcome, SearchRequest } from "../../actors/coordinator.ts";

/** The one message a lane worker gets. */
export interface ToLane {
  readonly type: "search";
  readonly req: SearchRequest;
  /** Run name of the lane's bus. */
  readonly run: string;
  /** Deadline of one request before it is sent again. */
  readonly requestTimeoutMs: number;
}

/** What a lane worker posts. */
export type FromLane =
  | { readonly type: "outcome"; readonly outcome: SearchOutcome }
  | { readonly type: "done"; readonly retries: number }
  | { readonly type: "failed"; readonly message: string };

/** Deals items to `lanes` lanes in turn: item i goes to lane i mod lanes (so each lane gets every level). */
export function dealLanes<T>(items: readonly T[], lanes: number): T[][] {
  const n = Math.max(1, Math.floor(lanes));
  const out: T[][] = Array.from({ length: n }, () => []);
  items.forEach((x, i) => out[i % n]!.push(x));
  return out.filter((l, i) => i === 0 || l.length > 0);
}

let open = 0;

/** Lane workers running now (tests check that a search leaves none behind). */
export function openSearchLanes(): number {
  return open;
}

/**
 * Runs one lane in a worker thread. Resolves, once every record it posted is handed over, with its
 * retried requests, or with why it failed and which of its problems it handed over before that.
 * Rejects only when `onResult` does.
 */
function runWorkerLane(
  msg: ToLane,
  onResult: (r: SearchOutcome) => Promise<void>,
): Promise<{ retries: number; failure?: Error; handed: ReadonlySet<string> }> {
  const worker = new Worker(new URL("./searchLaneWorker.ts", import.meta.url).href, { type: "module" });
  open++;
  const handedIds = new Set<string>();
  let handed = Promise.resolve();
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (outcome: { retries: number; failure?: Error } | { rejected: unknown }) => {
      if (settled) return;
      settled = true;
      worker.terminate();
      open--;
      // Records already posted are handed over before the lane counts as finished.
      handed.then(
        () => ("rejected" in outcome ? reject(outcome.rejected) : resolve({ ...outcome, handed: handedIds })),
        reject,
      );
    };
    worker.onmessage = (e: MessageEvent<FromLane>) => {
      const m = e.data;
      if (m.type === "outcome") {
        handed = handed.then(() => onResult(m.outcome)).then(() => void handedIds.add(m.outcome.problemId));
        handed.catch((err) => finish({ rejected: err }));
      } else if (m.type === "done") finish({ retries: m.retries });
      else finish({ retries: 0, failure: new Error(m.message) });
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      finish({ retries: 0, failure: new Error(e.message) });
    };
    worker.postMessage(msg);
  });
}

/** What a search in lanes did beyond its records. */
export interface LanesDone {
  /** Requests retried, all lanes together. */
  readonly retries: number;
  /** Why each worker lane that failed failed; its problems left unsearched were searched on this thread. */
  readonly failures: readonly string[];
}

/**
 * Searches `req.problems` in `lanes` lanes: lane 0 with `here` on this thread, the others in
 * worker threads. `onResult` gets every problem's record, from all lanes as they finish. A worker
 * lane that fails (it cannot start, or its search throws) loses nothing: once the other lanes are
 * done, the problems it had not handed over are searched with `here`, and the failure is counted.
 * Rejects when `here` or `onResult` does, once every lane has run to its end.
 */
export async function searchInLanes(
  req: SearchRequest,
  lanes: number,
  options: { readonly run: string; readonly requestTimeoutMs: number },
  here: (req: SearchRequest) => Promise<{ retries: number }>,
  onResult: (r: SearchOutcome) => Promise<void>,
): Promise<LanesDone> {
  const [mine, ...others] = dealLanes(req.problems, lanes);
  const mineRun = here({ ...req, problems: mine! });
  const workerRuns = others.map((problems, i) =>
    runWorkerLane({ type: "search", req: { ...req, problems }, run: `${options.run}-lane${i + 1}`, requestTimeoutMs: options.requestTimeoutMs }, onResult)
  );
  // Every lane runs to its end before a failure is thrown: what the others find is recorded.
  const rejected = (await Promise.allSettled([mineRun, ...workerRuns])).find((x) => x.status === "rejected");
  if (rejected) throw (rejected as PromiseRejectedResult).reason;
  const mineDone = await mineRun;
  const lanesDone = await Promise.all(workerRuns);
  let retries = mineDone.retries + lanesDone.reduce((a, r) => a + r.retries, 0);
  const failures: string[] = [];
  for (const [i, r] of lanesDone.entries()) {
    if (r.failure === undefined) continue;
    failures.push(r.failure.message);
    const left = others[i]!.filter((p) => !r.handed.has(p.id));
    if (left.length > 0) retries += (await here({ ...req, problems: left })).retries;
  }
  return { retries, failures };
}
