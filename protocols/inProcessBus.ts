/**
 * The in-process transport: a `Bus` inside one process, with NATS semantics — `*` and `>`
 * wildcards, queue groups (one member per group gets each message), request/reply with
 * deadlines and no-responders detection, drain and close. Delivery is asynchronous and never
 * re-entrant: `publish` only enqueues, and handlers run from a later microtask in publish order.
 * The clock and the queue-member choice are injected, so tests are deterministic.
 */
import { Prng } from "../math/prng.ts";
import { oversizedReply } from "./codec.ts";
import {
  type BlobStore,
  type Bus,
  BusError,
  type BusMessage,
  type Handler,
  type PublishOptions,
  type RequestOptions,
  type SubscribeOptions,
  type Subscription,
} from "./bus.ts";

/** Timers the bus uses for request deadlines; inject a fake one to test timeouts without waiting. */
export interface BusClock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real timers. */
export const systemClock: BusClock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** How a queue group picks the member that gets a message. */
export type QueuePolicy = { readonly kind: "round-robin" } | { readonly kind: "random"; readonly prng: Prng };

/** Options of `InProcessBus`. */
export interface InProcessBusOptions {
  readonly clock?: BusClock;
  /** Default round-robin. */
  readonly queuePolicy?: QueuePolicy;
  /** Largest payload `publish` accepts, in bytes (NATS's default: 1 MiB). */
  readonly maxPayload?: number;
  /** Called with errors thrown by handlers (default: one JSON log line on stderr). */
  readonly onHandlerError?: (subject: string, error: unknown) => void;
}

/** NATS's default `max_payload`. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** Deliveries handled per microtask turn before yielding to timers and I/O. */
const BATCH = 512;

/** True when `subject` (concrete tokens) matches `pattern` (which may hold `*` and a trailing `>`). */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  // A pattern without wildcards matches only itself (the common case: one check per subscription).
  if (!pattern.includes("*") && !pattern.includes(">")) return false;
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    const t = p[i]!;
    if (t === ">") return i === p.length - 1 && s.length > i;
    if (i >= s.length) return false;
    if (t !== "*" && t !== s[i]) return false;
  }
  return p.length === s.length;
}

/** True for a subject a publisher may use: non-empty tokens, no wildcards, no whitespace. */
export function isValidPublishSubject(subject: string): boolean {
  if (subject.length === 0 || /\s/.test(subject)) return false;
  return subject.split(".").every((t) => t.length > 0 && t !== "*" && t !== ">");
}

/** True for a subscription pattern: non-empty tokens, `>` only last. */
export function isValidSubscribePattern(pattern: string): boolean {
  if (pattern.length === 0 || /\s/.test(pattern)) return false;
  const tokens = pattern.split(".");
  return tokens.every((t, i) =>
    t.length > 0 && (t === "*" || t === ">" || !/[*>]/.test(t)) && (t !== ">" || i === tokens.length - 1)
  );
}

interface Envelope {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly reply?: string;
}

class InProcSubscription implements Subscription {
  /** Envelopes routed here, not yet handed to the handler. */
  pending = 0;
  readonly inFlight = new Set<Promise<void>>();
  active = true;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly subject: string,
    readonly queue: string | undefined,
    readonly handler: Handler,
    readonly conn: InProcessBus,
  ) {}

  unsubscribe(): void {
    if (!this.active) return;
    this.active = false;
    this.conn.network._remove(this);
  }

  async drain(): Promise<void> {
    // Stop routing new messages here, then wait for routed ones and running handlers.
    this.conn.network._remove(this);
    await this.idle();
    this.active = false;
  }

  idle(): Promise<void> {
    if (this.pending === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  checkIdle(): void {
    if (this.pending === 0 && this.inFlight.size === 0 && this.idleWaiters.length > 0) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }
}

interface PendingRequest {
  readonly resolve: (m: BusMessage) => void;
  readonly reject: (e: BusError) => void;
  readonly subject: string;
  readonly timer: unknown;
  readonly conn: InProcessBus;
}

/**
 * What a NATS server is to its clients: the routing shared by every `InProcessBus` connected to
 * it. Connections drain and close independently, as NATS connections do.
 */
export class InProcessNetwork {
  /** @internal */ readonly clock: BusClock;
  /** @internal */ readonly maxPayload: number;
  /** @internal */ readonly onHandlerError: (subject: string, error: unknown) => void;
  private readonly queuePolicy: QueuePolicy;
  private subs: InProcSubscription[] = [];
  private readonly queue: { sub: InProcSubscription; env: Envelope }[] = [];
  private queueHead = 0;
  private scheduled = false;
  private flushWaiters: (() => void)[] = [];
  private readonly rr = new Map<string, number>();
  private readonly requests = new Map<string, PendingRequest>();
  private inboxCounter = 0;

  constructor(options: InProcessBusOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.queuePolicy = options.queuePolicy ?? { kind: "round-robin" };
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.onHandlerError = options.onHandlerError ?? defaultHandlerError;
  }

  /** A new connection to this network. */
  connect(): InProcessBus {
    return new InProcessBus({ network: this });
  }

  /** Number of live subscriptions over all connections. */
  subscriptionCount(): number {
    return this.subs.length;
  }

  /** @internal */
  _add(sub: InProcSubscription): void {
    this.subs.push(sub);
  }

  /** @internal Removes a subscription from routing. */
  _remove(sub: InProcSubscription): void {
    const i = this.subs.indexOf(sub);
    if (i >= 0) this.subs.splice(i, 1);
  }

  /** @internal Removes every subscription of a connection and rejects its pending requests. */
  _disconnect(conn: InProcessBus): void {
    this.subs = this.subs.filter((sub) => {
      if (sub.conn !== conn) return true;
      sub.active = false;
      sub.checkIdle();
      return false;
    });
    for (const [inbox, p] of this.requests) {
      if (p.conn !== conn) continue;
      this.settle(inbox);
      p.reject(new BusError("Closed", p.subject));
    }
  }

  /** @internal A fresh inbox subject. */
  _inbox(): string {
    return `_INBOX.${++this.inboxCounter}`;
  }

  /** @internal */
  _addRequest(inbox: string, p: PendingRequest): void {
    this.requests.set(inbox, p);
  }

  /** Resolves when every message routed so far has been handed to its handler. */
  flush(): Promise<void> {
    if (this.queueHead >= this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  /** @internal Settles (forgets) a pending request, clearing its timer. */
  settle(inbox: string): PendingRequest | undefined {
    const p = this.requests.get(inbox);
    if (!p) return undefined;
    this.requests.delete(inbox);
    this.clock.clearTimeout(p.timer);
    return p;
  }

  /** @internal Routes an envelope; returns how many subscriptions (or waiting requests) it reached. */
  route(env: Envelope): number {
    if (env.subject.startsWith("_INBOX.") && this.requests.has(env.subject)) {
      const p = this.settle(env.subject)!;
      const msg = p.conn._message(env);
      queueMicrotask(() => p.resolve(msg));
      return 1;
    }
    let count = 0;
    const groups = new Map<string, InProcSubscription[]>();
    for (const sub of this.subs) {
      if (!subjectMatches(sub.subject, env.subject)) continue;
      if (sub.queue === undefined) {
        this.enqueue(sub, env);
        count++;
      } else {
        const key = `${sub.subject}\u0000${sub.queue}`;
        const members = groups.get(key);
        if (members) members.push(sub);
        else groups.set(key, [sub]);
      }
    }
    for (const [key, members] of groups) {
      this.enqueue(this.pickMember(key, members), env);
      count++;
    }
    return count;
  }

  private pickMember(key: string, members: InProcSubscription[]): InProcSubscription {
    if (this.queuePolicy.kind === "random") return this.queuePolicy.prng.pick(members);
    const n = this.rr.get(key) ?? 0;
    this.rr.set(key, n + 1);
    return members[n % members.length]!;
  }

  private enqueue(sub: InProcSubscription, env: Envelope): void {
    sub.pending++;
    this.queue.push({ sub, env });
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.deliver());
    }
  }

  private deliver(): void {
    let n = 0;
    while (this.queueHead < this.queue.length && n < BATCH) {
      const { sub, env } = this.queue[this.queueHead++]!;
      n++;
      sub.pending--;
      if (sub.active) this.invoke(sub, env);
      sub.checkIdle();
    }
    if (this.queueHead >= this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
      this.scheduled = false;
      const ws = this.flushWaiters;
      this.flushWaiters = [];
      for (const w of ws) w();
    } else {
      // Yield to timers and I/O so a publishing loop cannot starve the process.
      setTimeout(() => this.deliver(), 0);
    }
  }

  private invoke(sub: InProcSubscription, env: Envelope): void {
    let result: void | Promise<void>;
    try {
      result = sub.handler(sub.conn._message(env));
    } catch (e) {
      this.onHandlerError(env.subject, e);
      return;
    }
    if (result && typeof (result as Promise<void>).then === "function") {
      const p: Promise<void> = (result as Promise<void>).then(
        () => {},
        (e) => this.onHandlerError(env.subject, e),
      ).finally(() => {
        sub.inFlight.delete(p);
        sub.checkIdle();
      });
      sub.inFlight.add(p);
    }
  }
}

/** Options of `InProcessBus`: a network to join, or the options of a new one. */
export interface InProcessBusConnectOptions extends InProcessBusOptions {
  /** Join this network (its options apply); default: a new network of its own. */
  readonly network?: InProcessNetwork;
}

/**
 * A `Bus` within one process (the embedded default): one connection to an `InProcessNetwork`.
 * `new InProcessBus()` starts a private network; `bus.connect()` opens another connection to it.
 */
export class InProcessBus implements Bus {
  /** Transport name for logs and benchmarks. */
  readonly kind = "inproc";
  /** The network this connection belongs to. */
  readonly network: InProcessNetwork;
  private state: "open" | "draining" | "closed" = "open";
  private readonly ownSubs = new Set<InProcSubscription>();

  constructor(options: InProcessBusConnectOptions = {}) {
    this.network = options.network ?? new InProcessNetwork(options);
  }

  /** Another connection to the same network (drains and closes independently of this one). */
  connect(): InProcessBus {
    return this.network.connect();
  }

  /** True once `close` (or the end of `drain`) has run. */
  get closed(): boolean {
    return this.state === "closed";
  }

  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): void {
    if (this.state === "closed") throw new BusError("Closed", subject);
    if (!isValidPublishSubject(subject)) {
      throw new TypeError(`Cannot publish: invalid subject ${JSON.stringify(subject)}`);
    }
    const max = this.network.maxPayload;
    if (data.byteLength > max) {
      throw new RangeError(`Cannot publish on ${subject}: payload of ${data.byteLength} bytes exceeds the maximum of ${max}`);
    }
    this.network.route({
      subject,
      data,
      headers: { ...(options.headers ?? {}) },
      ...(options.reply !== undefined ? { reply: options.reply } : {}),
    });
  }

  subscribe(subject: string, handler: Handler, options: SubscribeOptions = {}): Subscription {
    if (this.state !== "open") throw new BusError("Closed", subject);
    if (!isValidSubscribePattern(subject)) {
      throw new TypeError(`Cannot subscribe: invalid subject pattern ${JSON.stringify(subject)}`);
    }
    const sub = new InProcSubscription(subject, options.queue, handler, this);
    this.ownSubs.add(sub);
    this.network._add(sub);
    return sub;
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage> {
    if (this.state !== "open") return Promise.reject(new BusError("Closed", subject));
    const net = this.network;
    const inbox = net._inbox();
    return new Promise<BusMessage>((resolve, reject) => {
      const timer = net.clock.setTimeout(() => {
        if (net.settle(inbox)) reject(new BusError("Timeout", subject));
      }, options.timeoutMs);
      net._addRequest(inbox, { resolve, reject, subject, timer, conn: this });
      let routed: number;
      try {
        if (!isValidPublishSubject(subject)) {
          throw new TypeError(`Cannot request: invalid subject ${JSON.stringify(subject)}`);
        }
        if (data.byteLength > net.maxPayload) {
          throw new BusError("Transport", subject, {
            cause: new RangeError(`Payload of ${data.byteLength} bytes exceeds the maximum of ${net.maxPayload}`),
          });
        }
        routed = net.route({ subject, data, headers: { ...(options.headers ?? {}) }, reply: inbox });
      } catch (e) {
        net.settle(inbox);
        reject(e);
        return;
      }
      if (routed === 0) {
        net.settle(inbox);
        reject(new BusError("NoResponders", subject));
      }
    });
  }

  flush(): Promise<void> {
    return this.network.flush();
  }

  async drain(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "draining";
    await Promise.all([...this.ownSubs].map((s) => s.drain()));
    await this.network.flush();
    this.close0();
  }

  close(): Promise<void> {
    this.close0();
    return Promise.resolve();
  }

  /** Number of live subscriptions of this connection. */
  subscriptionCount(): number {
    let n = 0;
    for (const s of this.ownSubs) if (s.active) n++;
    return n;
  }

  /** @internal The message handed to a handler or a requester on this connection. */
  _message(env: Envelope): BusMessage {
    const reply = env.reply;
    return {
      subject: env.subject,
      data: env.data,
      headers: env.headers,
      ...(reply !== undefined ? { reply } : {}),
      respond: (data: Uint8Array, headers?: Record<string, string>): boolean => {
        if (reply === undefined || this.state === "closed") return false;
        if (data.byteLength > this.network.maxPayload) {
          this.network.route({ subject: reply, ...oversizedReply(data.byteLength, this.network.maxPayload, headers) });
          return false;
        }
        this.network.route({ subject: reply, data, headers: { ...(headers ?? {}) } });
        return true;
      },
    };
  }

  private close0(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.network._disconnect(this);
    this.ownSubs.clear();
  }
}

function defaultHandlerError(subject: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  console.error(JSON.stringify({ level: "error", msg: "Handler failed", subject, error: message }));
}

/** A `BlobStore` in memory; stores copies, so callers may reuse their buffers. */
export class InMemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, Uint8Array>();

  put(name: string, data: Uint8Array): Promise<void> {
    if (name.length === 0) return Promise.reject(new TypeError("Cannot store a blob: the name is empty"));
    this.blobs.set(name, data.slice());
    return Promise.resolve();
  }

  get(name: string): Promise<Uint8Array | undefined> {
    const b = this.blobs.get(name);
    return Promise.resolve(b ? b.slice() : undefined);
  }

  list(): Promise<string[]> {
    return Promise.resolve([...this.blobs.keys()].sort());
  }

  delete(name: string): Promise<void> {
    this.blobs.delete(name);
    return Promise.resolve();
  }
}

/** A seeded random queue policy (convenience for `InProcessBusOptions.queuePolicy`). */
export function randomQueuePolicy(seed: number | string): QueuePolicy {
  return { kind: "random", prng: Prng.fromSeed(seed) };
}
