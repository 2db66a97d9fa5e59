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

/** Runs one lane in a worker thread; resolves with its retried requests when every problem is handed over. */
function runWorkerLane(msg: ToLane, onResult: (r: SearchOutcome) => Promise<void>): Promise<{ retries: number }> {
  const worker = new Worker(new URL("./searchLaneWorker.ts", import.meta.url).href, { type: "module" });
  open++;
  let handed = Promise.resolve();
  return new Promise<{ retries: number }>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, retries = 0) => {
      if (settled) return;
      settled = true;
      worker.terminate();
      open--;
      // Results already posted are handed over before the lane counts as finished.
      handed.then(() => (err ? reject(err) : resolve({ retries })), reject);
    };
    worker.onmessage = (e: MessageEvent<FromLane>) => {
      const m = e.data;
      if (m.type === "outcome") {
        handed = handed.then(() => onResult(m.outcome));
        handed.catch((err) => finish(err instanceof Error ? err : new Error(String(err))));
      } else if (m.type === "done") finish(undefined, m.retries);
      else finish(new Error(`Search lane failed: ${m.message}`));
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      finish(new Error(`Search lane failed: ${e.message}`));
    };
    worker.postMessage(msg);
  });
}

/**
 * Searches `req.problems` in `lanes` lanes: lane 0 with `here` on this thread, the others in
 * worker threads. `onResult` gets every problem's record, from all lanes as they finish. When a
 * lane fails, the others still run to the end (what they find is kept), then the first failure
 * is thrown. Resolves with the retried requests of all lanes.
 */
export async function searchInLanes(
  req: SearchRequest,
  lanes: number,
  options: { readonly run: string; readonly requestTimeoutMs: number },
  here: (req: SearchRequest) => Promise<{ retries: number }>,
  onResult: (r: SearchOutcome) => Promise<void>,
): Promise<{ retries: number }> {
  const [mine, ...others] = dealLanes(req.problems, lanes);
  const runs = [
    here({ ...req, problems: mine! }),
    ...others.map((problems, i) =>
      runWorkerLane({ type: "search", req: { ...req, problems }, run: `${options.run}-lane${i + 1}`, requestTimeoutMs: options.requestTimeoutMs }, onResult)
    ),
  ];
  const settled = await Promise.allSettled(runs);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return { retries: settled.reduce((a, s) => a + (s as PromiseFulfilledResult<{ retries: number }>).value.retries, 0) };
}
