/**
 * Idempotent retries: replies kept by request id for a time window (and at most `maxEntries`), so
 * a retried request gets the reply of its first delivery, and a retry that arrives while the first
 * is still running waits for that same work instead of doing it twice.
 */
import type { Clock } from "./clock.ts";

/** A reply cache keyed by request id. */
export class ReplyCache<T> {
  private readonly entries = new Map<string, { at: number; value: Promise<T> }>();
  hits = 0;

  constructor(private readonly clock: Clock, private readonly windowMs: number, private readonly maxEntries = 10_000) {}

  /** The cached reply for `id`, or the result of `make()` (cached; a failure is not cached). */
  getOrCreate(id: string, make: () => Promise<T>): Promise<T> {
    const now = this.clock.now();
    this.evict(now);
    const hit = this.entries.get(id);
    if (hit !== undefined) {
      this.hits++;
      return hit.value;
    }
    const value = make();
    this.entries.set(id, { at: now, value });
    value.catch(() => this.entries.delete(id));
    return value;
  }

  /** Entries held. */
  get size(): number {
    return this.entries.size;
  }

  private evict(now: number): void {
    for (const [id, e] of this.entries) {
      if (now - e.at <= this.windowMs && this.entries.size <= this.maxEntries) break;
      this.entries.delete(id);
    }
  }
}
