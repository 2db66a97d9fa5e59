/**
 * The `Bus`: what actors use to talk. Two transports implement it — NATS
 * (`protocols/natsBus.ts`) and in-process (`protocols/inProcessBus.ts`) — and one contract suite
 * (`tests/protocols/busContract.test.ts`) runs against both. Only bytes cross it; payloads are
 * encoded and decoded with the schemas in `protocols/messages.ts`.
 */

/** Header names we put on the wire. */
export const Headers = {
  /** Idempotency key of a request; a retried request keeps its id. */
  requestId: "Rstar-Request-Id",
  /** Protocol version of the payload. */
  protocol: "Rstar-Protocol",
  /** Set on error replies: a short machine-readable code (e.g. "BadRequest", "Internal"). */
  errorCode: "Rstar-Error",
} as const;

/** A received message. `respond` is present when the sender waits for a reply. */
export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly reply?: string;
  /** Sends a reply to the requester; false when there is no reply subject. */
  respond(data: Uint8Array, headers?: Record<string, string>): boolean;
}

/** Options of `Bus.subscribe`. */
export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  readonly queue?: string;
}

/** Options of `Bus.request`. */
export interface RequestOptions {
  /** Deadline for the reply, in milliseconds. */
  readonly timeoutMs: number;
  readonly headers?: Record<string, string>;
}

/** Options of `Bus.publish`. */
export interface PublishOptions {
  readonly headers?: Record<string, string>;
  readonly reply?: string;
}

/** A live subscription; `unsubscribe` stops delivery at once, `drain` after in-flight handlers finish. */
export interface Subscription {
  readonly subject: string;
  unsubscribe(): void;
  drain(): Promise<void>;
}

/**
 * Why a request failed on the bus itself (not an error reply from the responder). `Disconnected`:
 * the connection dropped while the request waited for its reply (it may have been served; send it
 * again with the same id).
 */
export type BusErrorReason = "Timeout" | "NoResponders" | "Closed" | "Disconnected" | "Transport";

/** A failure of the bus itself. Thrown (rejected) by `request`; `reason` says which. */
export class BusError extends Error {
  readonly _tag = "BusError";
  constructor(readonly reason: BusErrorReason, readonly subject: string, options?: { cause?: unknown }) {
    super(`Bus request on ${subject} failed: ${reason}`, options);
    this.name = "BusError";
  }
}

/** Handler for delivered messages; a thrown error or rejection is logged, never crashes the bus. */
export type Handler = (msg: BusMessage) => void | Promise<void>;

/** Publish, subscribe (with queue groups), request with a deadline, drain and close. */
export interface Bus {
  /** "inproc" or "nats", for logs and benchmarks. */
  readonly kind: string;
  publish(subject: string, data: Uint8Array, options?: PublishOptions): void;
  subscribe(subject: string, handler: Handler, options?: SubscribeOptions): Subscription;
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage>;
  /** Resolves when everything published so far has reached the transport. */
  flush(): Promise<void>;
  /** Stops new deliveries, lets in-flight handlers finish, then closes. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Versioned blobs (model weights) that every worker of a run can load. */
export interface BlobStore {
  put(name: string, data: Uint8Array): Promise<void>;
  /** The blob, or undefined when there is none by that name. */
  get(name: string): Promise<Uint8Array | undefined>;
  list(): Promise<string[]>;
  delete(name: string): Promise<void>;
}
