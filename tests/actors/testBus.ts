/**
 * A minimal in-memory `Bus` for the actor tests (queue groups round-robin, request with a
 * deadline), used until the protocol package's InProcessBus is available to these suites.
 */
import type { Bus, BusMessage, Handler, PublishOptions, RequestOptions, SubscribeOptions, Subscription } from "../../protocols/bus.ts";
import { BusError } from "../../protocols/bus.ts";

interface Sub {
  subject: string;
  handler: Handler;
  queue?: string;
  active: boolean;
  inflight: Set<Promise<void>>;
}

/** An in-memory bus: deliveries are asynchronous (a microtask later), like a real transport. */
export class TestBus implements Bus {
  readonly kind = "test";
  private subs: Sub[] = [];
  private nextInbox = 0;
  private rr = new Map<string, number>();

  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): void {
    const matching = this.subs.filter((s) => s.active && matches(s.subject, subject));
    const groups = new Map<string, Sub[]>();
    const targets: Sub[] = [];
    for (const s of matching) {
      if (s.queue === undefined) targets.push(s);
      else groups.set(s.queue, [...(groups.get(s.queue) ?? []), s]);
    }
    for (const [q, members] of groups) {
      const n = this.rr.get(q) ?? 0;
      this.rr.set(q, n + 1);
      targets.push(members[n % members.length]!);
    }
    for (const s of targets) {
      const msg: BusMessage = {
        subject,
        data,
        headers: options.headers ?? {},
        ...(options.reply === undefined ? {} : { reply: options.reply }),
        respond: (d, h) => {
          if (options.reply === undefined) return false;
          this.publish(options.reply, d, h === undefined ? {} : { headers: h });
          return true;
        },
      };
      const p = Promise.resolve().then(() => s.handler(msg)).catch(() => {}).then(() => {
        s.inflight.delete(p);
      });
      s.inflight.add(p);
    }
  }

  subscribe(subject: string, handler: Handler, options: SubscribeOptions = {}): Subscription {
    const sub: Sub = { subject, handler, active: true, inflight: new Set(), ...(options.queue === undefined ? {} : { queue: options.queue }) };
    this.subs.push(sub);
    return {
      subject,
      unsubscribe: () => {
        sub.active = false;
        this.subs = this.subs.filter((s) => s !== sub);
      },
      drain: async () => {
        sub.active = false;
        this.subs = this.subs.filter((s) => s !== sub);
        await Promise.all([...sub.inflight]);
      },
    };
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage> {
    const inbox = `_INBOX.${this.nextInbox++}`;
    if (!this.subs.some((s) => s.active && matches(s.subject, subject))) {
      return Promise.reject(new BusError("NoResponders", subject));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.unsubscribe();
        reject(new BusError("Timeout", subject));
      }, options.timeoutMs);
      const sub = this.subscribe(inbox, (msg) => {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(msg);
      });
      this.publish(subject, data, { reply: inbox, ...(options.headers === undefined ? {} : { headers: options.headers }) });
    });
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  async drain(): Promise<void> {
    await Promise.all(this.subs.flatMap((s) => [...s.inflight]));
    this.subs = [];
  }

  close(): Promise<void> {
    this.subs = [];
    return Promise.resolve();
  }
}

function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return true;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
