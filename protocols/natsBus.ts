/**
 * The NATS transport: a `Bus` over `@nats-io/transport-node` v3, and a `BlobStore` over a
 * JetStream object store (model weights that workers on other machines load). Reconnects forever
 * with capped exponential backoff by default and logs every connection status change. A request
 * in flight when the connection drops fails at once with a `Disconnected` BusError (its reply, if
 * any, is lost with the connection), so a caller that retries sends it again instead of waiting
 * out its deadline. A request made while the client reconnects waits, within its deadline, for
 * the connection to come back before it is sent (the client discards what it buffers while
 * disconnected); publications made meanwhile are lost, as on any network.
 */
import {
  ClosedConnectionError,
  connect,
  DrainingConnectionError,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from "@nats-io/transport-node";
import { Objm, type ObjectStore } from "@nats-io/obj";
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
import { oversizedReply } from "./codec.ts";

/** One structured log line (same shape as the codec's). */
export type NatsLogFn = (entry: Record<string, unknown>) => void;

/** Options of `connectNatsBus`. */
export interface NatsBusOptions {
  /** Connection name shown by the server (e.g. "rstar-expander-1"). */
  readonly name?: string;
  /** Reconnect attempts; -1 (default) = forever. */
  readonly maxReconnectAttempts?: number;
  /** First reconnect delay in ms (default 100), doubled per failed attempt up to `maxReconnectDelayMs`. */
  readonly reconnectDelayMs?: number;
  /** Longest reconnect delay in ms (default 2000). */
  readonly maxReconnectDelayMs?: number;
  /** Fail after this long if the first connection cannot be made (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Status-change log (default: one JSON line on stderr). */
  readonly log?: NatsLogFn;
}

const stderrLog: NatsLogFn = (entry) => console.error(JSON.stringify(entry));

/** Connects to NATS at `url` (comma-separated for several servers) and returns a `Bus` over it. */
export async function connectNatsBus(url: string, options: NatsBusOptions = {}): Promise<NatsBus> {
  const log = options.log ?? stderrLog;
  const base = options.reconnectDelayMs ?? 100;
  const cap = options.maxReconnectDelayMs ?? 2000;
  let failures = 0;
  const nc = await connect({
    servers: url.split(",").map((s) => s.trim()).filter((s) => s.length > 0),
    ...(options.name !== undefined ? { name: options.name } : {}),
    maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
    reconnectDelayHandler: () => Math.min(cap, base * 2 ** Math.min(failures++, 16)),
    timeout: options.timeoutMs ?? 5000,
  });
  const bus = new NatsBus(nc, log);
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
          log({ level: "warn", msg: "NATS disconnected", server: s.server, name: options.name });
          bus._connectionLost();
          break;
        case "reconnecting":
          break;
        case "reconnect":
          failures = 0;
          bus._reconnected();
          log({ level: "info", msg: "NATS reconnected", server: s.server, name: options.name });
          break;
        case "error":
          log({ level: "error", msg: "NATS error", error: s.error.message, name: options.name });
          break;
        case "staleConnection":
        case "ldm":
        case "slowConsumer":
        case "forceReconnect":
          log({ level: "warn", msg: `NATS ${s.type}`, name: options.name });
          break;
        default:
          break;
      }
    }
  })().catch(() => {}).finally(() => bus._closed());
  return bus;
}

function toHeaders(h: Record<string, string> | undefined): MsgHdrs | undefined {
  if (h === undefined) return undefined;
  const keys = Object.keys(h);
  if (keys.length === 0) return undefined;
  const out = natsHeaders();
  for (const k of keys) out.set(k, h[k]!);
  return out;
}

function fromHeaders(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const k of h.keys()) out[k] = h.get(k);
  return out;
}

function busErrorOf(e: unknown, subject: string): BusError {
  if (e instanceof BusError) return e;
  if (e instanceof TimeoutError) return new BusError("Timeout", subject, { cause: e });
  if (e instanceof NoRespondersError) return new BusError("NoResponders", subject, { cause: e });
  if (e instanceof RequestError) {
    if (e.isNoResponders()) return new BusError("NoResponders", subject, { cause: e });
    if (e.cause instanceof TimeoutError) return new BusError("Timeout", subject, { cause: e });
  }
  if (e instanceof ClosedConnectionError || e instanceof DrainingConnectionError) {
    return new BusError("Closed", subject, { cause: e });
  }
  return new BusError("Transport", subject, { cause: e });
}

/** Waits for `p` (its failure ignored) or `ms`, whichever comes first. */
async function withDeadline(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([p.then(() => {}, () => {}), deadline]);
  clearTimeout(timer);
}

class NatsSubscription implements Subscription {
  readonly inFlight = new Set<Promise<void>>();
  constructor(
    readonly subject: string,
    private readonly inner: { unsubscribe(): void; drain(): Promise<void>; isClosed(): boolean },
    private readonly owner: NatsBus,
  ) {}

  unsubscribe(): void {
    this.owner._forget(this);
    if (!this.inner.isClosed()) this.inner.unsubscribe();
  }

  async drain(): Promise<void> {
    this.owner._forget(this);
    if (!this.inner.isClosed()) await this.inner.drain().catch(() => {});
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}

/** A `Bus` over one NATS connection. */
export class NatsBus implements Bus {
  /** Transport name for logs and benchmarks. */
  readonly kind = "nats";
  private readonly subs = new Set<NatsSubscription>();
  private state: "open" | "draining" | "closed" = "open";
  /** Rejecters of the requests waiting for a reply. */
  private readonly pending = new Set<() => void>();
  private readonly counters = { disconnects: 0, reconnects: 0, requestsFailedByDisconnect: 0 };
  /** False between a `disconnect` and the next `reconnect` status. */
  private connected = true;
  private reconnectWaiters: (() => void)[] = [];

  constructor(
    /** The underlying connection (for JetStream and the object store). */
    readonly nc: NatsConnection,
    private readonly log: NatsLogFn = stderrLog,
  ) {}

  /** The server's `max_payload` in bytes. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): void {
    if (this.state === "closed" || this.nc.isClosed()) throw new BusError("Closed", subject);
    if (data.byteLength > this.maxPayload) {
      throw new RangeError(
        `Cannot publish on ${subject}: payload of ${data.byteLength} bytes exceeds the maximum of ${this.maxPayload}`,
      );
    }
    const h = toHeaders(options.headers);
    try {
      this.nc.publish(subject, data, {
        ...(h ? { headers: h } : {}),
        ...(options.reply !== undefined ? { reply: options.reply } : {}),
      });
    } catch (e) {
      const err = busErrorOf(e, subject);
      if (err.reason === "Closed") throw err;
      throw e;
    }
  }

  subscribe(subject: string, handler: Handler, options: SubscribeOptions = {}): Subscription {
    if (this.state !== "open") throw new BusError("Closed", subject);
    const holder: { sub?: NatsSubscription } = {};
    const callback = (err: Error | null, m: Msg) => {
      if (err) {
        this.log({ level: "error", msg: "NATS subscription error", subject, error: err.message });
        return;
      }
      if (holder.sub) this.dispatch(holder.sub, handler, m);
    };
    let inner: ReturnType<NatsConnection["subscribe"]>;
    try {
      inner = this.nc.subscribe(subject, {
        callback,
        ...(options.queue !== undefined ? { queue: options.queue } : {}),
      });
    } catch (e) {
      const err = busErrorOf(e, subject);
      if (err.reason === "Closed") throw err;
      throw e;
    }
    const wrapper = new NatsSubscription(subject, inner, this);
    holder.sub = wrapper;
    this.subs.add(wrapper);
    return wrapper;
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage> {
    if (this.state !== "open" || this.nc.isClosed()) throw new BusError("Closed", subject);
    if (data.byteLength > this.maxPayload) {
      throw new BusError("Transport", subject, {
        cause: new RangeError(`Payload of ${data.byteLength} bytes exceeds the maximum of ${this.maxPayload}`),
      });
    }
    let timeoutMs = Math.max(1, Math.round(options.timeoutMs));
    if (!this.connected) {
      const t0 = Date.now();
      if (!(await this.waitConnected(timeoutMs))) throw new BusError("Timeout", subject);
      if (this.state !== "open" || this.nc.isClosed()) throw new BusError("Closed", subject);
      timeoutMs -= Date.now() - t0;
      if (timeoutMs <= 0) throw new BusError("Timeout", subject);
    }
    const h = toHeaders(options.headers);
    let fail: (() => void) | undefined;
    const lost = new Promise<never>((_, reject) => {
      fail = () => reject(new BusError("Disconnected", subject, { cause: new Error("NATS connection lost before the reply") }));
    });
    this.pending.add(fail!);
    try {
      const m = await Promise.race([
        this.nc.request(subject, data, {
          timeout: timeoutMs,
          ...(h ? { headers: h } : {}),
        }),
        lost,
      ]);
      return this.message(m);
    } catch (e) {
      throw busErrorOf(e, subject);
    } finally {
      this.pending.delete(fail!);
    }
  }

  /** Connection drops and reconnections so far, and the requests failed by a drop. */
  connectionStats(): { disconnects: number; reconnects: number; requestsFailedByDisconnect: number } {
    return { ...this.counters };
  }

  /** @internal The connection dropped: fails the requests in flight (their replies are lost). */
  _connectionLost(): void {
    this.counters.disconnects++;
    this.connected = false;
    const waiting = [...this.pending];
    this.pending.clear();
    this.counters.requestsFailedByDisconnect += waiting.length;
    for (const fail of waiting) fail();
  }

  /** @internal The connection is back. */
  _reconnected(): void {
    this.counters.reconnects++;
    this.connected = true;
    this.wakeReconnectWaiters();
  }

  /** @internal The connection is closed for good (no more reconnects). */
  _closed(): void {
    this.wakeReconnectWaiters();
  }

  private wakeReconnectWaiters(): void {
    const ws = this.reconnectWaiters;
    this.reconnectWaiters = [];
    for (const w of ws) w();
  }

  /** Whether the connection is up now (not lost and reconnecting, not closed). */
  isConnected(): boolean {
    return this.connected && this.state === "open" && !this.nc.isClosed();
  }

  /**
   * Resolves true once the connection is up (at once when it is), false after `ms` without it or
   * once the connection is closed for good.
   */
  async whenConnected(ms: number): Promise<boolean> {
    if (this.state !== "open" || this.nc.isClosed()) return false;
    if (this.connected) return true;
    await this.waitConnected(ms);
    return this.isConnected();
  }

  /** Resolves true once connected (or closed), false after `ms`. */
  private waitConnected(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.reconnectWaiters = this.reconnectWaiters.filter((w) => w !== wake);
        resolve(false);
      }, ms);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.reconnectWaiters.push(wake);
    });
  }

  async flush(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.flush();
  }

  async drain(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "draining";
    await Promise.all([...this.subs].map((s) => s.drain()));
    if (!this.nc.isClosed() && !this.nc.isDraining()) await this.nc.drain().catch(() => {});
    this.state = "closed";
  }

  /**
   * Closes the connection. While connected, the subscriptions are withdrawn and the server's
   * acknowledgement awaited first (at most a second), so that once this resolves no queue-group
   * message is routed here: the server otherwise notices a closed socket only later, and a
   * request it hands this connection meanwhile is lost and times out.
   */
  async close(): Promise<void> {
    this.state = "closed";
    this.wakeReconnectWaiters();
    const subs = [...this.subs];
    this.subs.clear();
    if (this.nc.isClosed()) return;
    if (this.connected && subs.length > 0) {
      for (const s of subs) s.unsubscribe();
      await withDeadline(this.nc.flush(), 1000);
    }
    await this.nc.close();
  }

  /** @internal Stops tracking a subscription. */
  _forget(sub: NatsSubscription): void {
    this.subs.delete(sub);
  }

  private dispatch(sub: NatsSubscription, handler: Handler, m: Msg): void {
    let result: void | Promise<void>;
    try {
      result = handler(this.message(m));
    } catch (e) {
      this.handlerFailed(m.subject, e);
      return;
    }
    if (result && typeof (result as Promise<void>).then === "function") {
      const p: Promise<void> = (result as Promise<void>)
        .then(() => {}, (e) => this.handlerFailed(m.subject, e))
        .finally(() => sub.inFlight.delete(p));
      sub.inFlight.add(p);
    }
  }

  private handlerFailed(subject: string, e: unknown): void {
    this.log({ level: "error", msg: "Handler failed", subject, error: e instanceof Error ? e.message : String(e) });
  }

  private message(m: Msg): BusMessage {
    const nc = this.nc;
    return {
      subject: m.subject,
      data: m.data,
      headers: fromHeaders(m.headers),
      ...(m.reply ? { reply: m.reply } : {}),
      respond: (data: Uint8Array, headers?: Record<string, string>): boolean => {
        if (!m.reply || nc.isClosed()) return false;
        // A reply too big to send goes as an error reply saying so (and counts as not sent).
        const instead = data.byteLength > this.maxPayload ? oversizedReply(data.byteLength, this.maxPayload, headers) : undefined;
        const h = toHeaders(instead?.headers ?? headers);
        try {
          nc.publish(m.reply, instead?.data ?? data, h ? { headers: h } : {});
          return instead === undefined;
        } catch {
          return false;
        }
      },
    };
  }
}

/** A `BlobStore` over the JetStream object store bucket `bucket` (created when missing). */
export async function natsBlobStore(nc: NatsConnection, bucket: string): Promise<BlobStore> {
  const os = await new Objm(nc).create(bucket);
  return new NatsBlobStore(os);
}

class NatsBlobStore implements BlobStore {
  constructor(private readonly os: ObjectStore) {}

  async put(name: string, data: Uint8Array): Promise<void> {
    if (name.length === 0) throw new TypeError("Cannot store a blob: the name is empty");
    await this.os.putBlob({ name }, data);
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    const info = await this.os.info(name);
    if (info === null || info.deleted) return undefined;
    const b = await this.os.getBlob(name);
    return b ?? undefined;
  }

  async list(): Promise<string[]> {
    const infos = await this.os.list();
    return infos.filter((i) => !i.deleted).map((i) => i.name).sort();
  }

  async delete(name: string): Promise<void> {
    const info = await this.os.info(name);
    if (info === null || info.deleted) return;
    await this.os.delete(name);
  }
}
