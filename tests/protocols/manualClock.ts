/** A hand-driven `BusClock` for tests: timers fire only when `advance` passes their time. */
import type { BusClock } from "../../protocols/inProcessBus.ts";

/** Timers that fire on `advance(ms)`, in time order. */
export class ManualClock implements BusClock {
  now = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Number of timers not yet fired. */
  pending(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing due timers (and letting microtasks run between them). */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      let best: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!best || e[1].at < best[1].at)) best = e;
      if (!best) break;
      this.timers.delete(best[0]);
      this.now = best[1].at;
      best[1].fn();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

/** Lets queued microtasks (and bus deliveries) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => queueMicrotask(r));
}
