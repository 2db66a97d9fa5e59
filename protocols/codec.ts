/**
 * Bytes ⇄ messages, and the two ends of a request: `serve` (responder) and `call` (caller).
 * `decode` never throws: an oversized, non-JSON, wrong-version or ill-shaped payload becomes a
 * `ProtocolError` whose `code` is the `ErrorReply` code a responder sends back.
 *
 * @example
 * const sub = serve(bus, s.expand, ExpandRequest, async (req) => reply(req), {
 *   queue: QueueGroups.expander, replySchema: ExpandReply,
 * });
 * const r = await call(bus, s.expand, ExpandRequest, ExpandReply, req, { timeoutMs: 5000, retries: 2 });
 * if (Result.isSuccess(r)) use(r.success); else log(r.failure._tag);
 */
import { Effect, Result, Schema } from "effect";
import type { Prng } from "../math/prng.ts";
import { type Bus, BusError, type BusMessage, Headers, type Subscription } from "./bus.ts";
import { DeadLetter, ErrorCode, ErrorReply, Event, PROTOCOL_VERSION } from "./messages.ts";
import { runOfSubject, runSubjects } from "./subjects.ts";

/** Largest payload decoded by default: NATS's default `max_payload` (1 MiB). */
export const DEFAULT_MAX_BYTES = 1024 * 1024;

/** Bytes of a bad payload kept in a dead-letter record. */
export const DEAD_LETTER_SAMPLE_BYTES = 256;

/** A payload that could not be decoded, or a request a responder refused; `code` is the ErrorReply code. */
export class ProtocolError extends Schema.TaggedError<ProtocolError>()("ProtocolError", {
  code: ErrorCode,
  message: Schema.String,
}) {}

/** An `ErrorReply` received from a responder. */
export class RemoteError extends Schema.TaggedError<RemoteError>()("RemoteError", {
  code: ErrorCode,
  message: Schema.String,
  subject: Schema.String,
}) {}

/** Why a `call` failed: the bus (after retries), an error reply, or an undecodable reply. */
export type CallError = BusError | RemoteError | ProtocolError;

/** Any schema whose encoded form is plain JSON and that needs no services. */
// deno-lint-ignore no-explicit-any
export type MessageSchema<A> = Schema.Codec<A, any, never, never>;

/** A schema whose encoded form is its type: a value's JSON is its wire form (see `encodeRequest`). */
export type RequestSchema<A> = Schema.Codec<A, A, never, never>;

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

/** The message name of a schema (its `title` annotation), for error messages. */
export function messageName(schema: Schema.Top): string {
  const title = (schema.ast.annotations as { title?: unknown } | undefined)?.title;
  return typeof title === "string" ? title : "message";
}

/** Encodes a value as JSON bytes; an invalid value is a bug and throws. */
export function encode<A>(schema: MessageSchema<A>, value: A): Uint8Array {
  return encoder.encode(JSON.stringify(Schema.encodeSync(schema)(value)));
}

/**
 * A request's JSON bytes, unchecked: its encoded form is its type (the signature demands a schema
 * that transforms nothing), and the responder checks it on arrival and refuses a bad one with a
 * BadRequest naming the field. Checking it here as well doubled the schema work of every request
 * (a fifth of a bootstrap search's time, whose score requests carry whole trajectories).
 */
export function encodeRequest<A>(_schema: RequestSchema<A>, value: A): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Options of `decode`. */
export interface DecodeOptions {
  /** Largest accepted payload in bytes (default `DEFAULT_MAX_BYTES`). */
  readonly maxBytes?: number;
}

/** Parses bytes as a JSON object, checking size, encoding and `v`; never throws. */
export function parsePayload(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): Result.Result<Record<string, unknown>, ProtocolError> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes.byteLength > maxBytes) {
    return fail("TooLarge", `Send a smaller payload: ${bytes.byteLength} bytes exceeds the limit of ${maxBytes}`);
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return fail("BadRequest", "Send UTF-8 JSON: the payload is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return fail("BadRequest", `Send valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("BadRequest", `Send a JSON object: got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`);
  }
  const obj = value as Record<string, unknown>;
  if ("v" in obj && obj.v !== PROTOCOL_VERSION) {
    return fail(
      "VersionMismatch",
      typeof obj.v === "number"
        ? `Speak protocol version ${PROTOCOL_VERSION}: the payload has version ${obj.v}, this peer speaks ${PROTOCOL_VERSION}`
        : `Speak protocol version ${PROTOCOL_VERSION}: "v" must be the number ${PROTOCOL_VERSION}, got ${typeof obj.v} ${JSON.stringify(obj.v)}`,
    );
  }
  return Result.succeed(obj);
}

/** Validates a parsed payload against a schema; never throws. */
export function decodeValue<A>(schema: MessageSchema<A>, value: unknown): Result.Result<A, ProtocolError> {
  const r = Schema.decodeUnknownResult(schema)(value, { errors: "all" });
  if (Result.isSuccess(r)) return Result.succeed(r.success);
  return fail("BadRequest", `Fix the ${messageName(schema)} payload: ${r.failure.message.replaceAll("\n", " ")}`);
}

/** Decodes bytes into a message: TooLarge, BadRequest (JSON or schema) or VersionMismatch on failure; never throws. */
export function decode<A>(
  schema: MessageSchema<A>,
  bytes: Uint8Array,
  options: DecodeOptions = {},
): Result.Result<A, ProtocolError> {
  const parsed = parsePayload(bytes, options);
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure);
  return decodeValue(schema, parsed.success);
}

function fail(code: ErrorCode, message: string): Result.Result<never, ProtocolError> {
  return Result.fail(new ProtocolError({ code, message }));
}

/** The bytes of an `ErrorReply`. */
export function encodeErrorReply(code: ErrorCode, message: string, id?: string): Uint8Array {
  return encode(ErrorReply, { v: PROTOCOL_VERSION, ...(id !== undefined ? { id } : {}), error: { code, message } });
}

/**
 * What a bus sends instead of a reply over its maximum message size: a `BadRequest` error reply
 * (keeping the request id header), so the caller learns why instead of timing out and asking again.
 */
export function oversizedReply(size: number, max: number, headers?: Record<string, string>): { data: Uint8Array; headers: Record<string, string> } {
  const id = headers?.[Headers.requestId];
  const message = `Ask for less: the reply of ${size} bytes exceeds the maximum message size of ${max}`;
  return {
    data: encodeErrorReply("BadRequest", message, id),
    headers: { ...(id !== undefined ? { [Headers.requestId]: id } : {}), [Headers.errorCode]: "BadRequest" },
  };
}

/** One structured log line. */
export type LogFn = (entry: Record<string, unknown>) => void;

/** Writes one JSON object per line on stderr. */
export const stderrLog: LogFn = (entry) => console.error(JSON.stringify(entry));

/** Options of `serve`. */
export interface ServeOptions<R> {
  /** Queue group: each request goes to one member. */
  readonly queue?: string;
  /** Schema of the reply (validated and encoded before sending). */
  readonly replySchema: MessageSchema<R>;
  /** Largest accepted request in bytes (default `DEFAULT_MAX_BYTES`). */
  readonly maxBytes?: number;
  /** Where bad messages without a reply subject are recorded (default: the run's `deadletter`). */
  readonly deadLetterSubject?: string;
  /**
   * Most requests handled at once (default 1024); beyond it a request is answered `Unavailable`
   * at once (callers retry with backoff), so a flood cannot grow memory without bound.
   */
  readonly maxInFlight?: number;
  readonly log?: LogFn;
}

/** Default of `ServeOptions.maxInFlight`. */
export const DEFAULT_MAX_IN_FLIGHT = 1024;

/** A handler's answer: the reply, or a `ProtocolError` sent back as an `ErrorReply` (e.g. Unavailable). */
export type ServeResult<R> = R | ProtocolError;

/** What `serve` has done so far. */
export interface ServeStats {
  served: number;
  rejected: number;
  failed: number;
  deadLettered: number;
  /** Requests answered Unavailable because `maxInFlight` were already being handled. */
  shed: number;
  /** Requests being handled now. */
  inFlight: number;
}

/** A serving subscription with its counters. */
export interface Served extends Subscription {
  readonly stats: Readonly<ServeStats>;
}

/**
 * Serves requests on `subject`: decodes each, calls `handler`, encodes the reply. Bad input gets an
 * `ErrorReply` (or a `DeadLetter` publication when there is no reply subject) and a log line; a
 * handler that throws or rejects gets an `Internal` error reply. Nothing stops the subscription.
 */
export function serve<A, R>(
  bus: Bus,
  subject: string,
  requestSchema: MessageSchema<A>,
  handler: (request: A, msg: BusMessage) => ServeResult<NoInfer<R>> | Promise<ServeResult<NoInfer<R>>>,
  options: ServeOptions<R>,
): Served {
  const log = options.log ?? stderrLog;
  const stats: ServeStats = { served: 0, rejected: 0, failed: 0, deadLettered: 0, shed: 0, inFlight: 0 };
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const deadLetterSubject = options.deadLetterSubject ?? defaultDeadLetter(subject);

  const refuse = (msg: BusMessage, error: ProtocolError, id: string | undefined, phase: "decode" | "handle") => {
    log({
      level: "warn",
      msg: phase === "decode" ? "Rejected bad request" : "Request failed",
      subject: msg.subject,
      code: error.code,
      error: error.message,
      ...(id !== undefined ? { id } : {}),
    });
    if (msg.reply !== undefined) {
      msg.respond(encodeErrorReply(error.code, error.message, id), { [Headers.errorCode]: error.code });
    } else if (deadLetterSubject !== undefined) {
      stats.deadLettered++;
      publishDeadLetter(bus, deadLetterSubject, msg, error, log);
    }
  };

  const sub = bus.subscribe(subject, async (msg) => {
    const parsed = parsePayload(msg.data, options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {});
    const id = Result.isSuccess(parsed) && typeof parsed.success.id === "string" ? parsed.success.id : undefined;
    const decoded: Result.Result<A, ProtocolError> = Result.isSuccess(parsed)
      ? decodeValue(requestSchema, parsed.success)
      : Result.fail(parsed.failure);
    if (Result.isFailure(decoded)) {
      stats.rejected++;
      refuse(msg, decoded.failure, id, "decode");
      return;
    }
    if (stats.inFlight >= maxInFlight) {
      stats.shed++;
      const message = `Retry later: ${stats.inFlight} requests are already being handled on ${msg.subject}`;
      if (msg.reply !== undefined) {
        msg.respond(encodeErrorReply("Unavailable", message, id), { [Headers.errorCode]: "Unavailable" });
      } else if (deadLetterSubject !== undefined) {
        stats.deadLettered++;
        publishDeadLetter(bus, deadLetterSubject, msg, new ProtocolError({ code: "Unavailable", message }), log);
      }
      return;
    }
    let result: ServeResult<R>;
    stats.inFlight++;
    try {
      result = await handler(decoded.success, msg);
    } catch (e) {
      stats.failed++;
      const message = `Retry later or report a bug: the handler failed: ${e instanceof Error ? e.message : String(e)}`;
      refuse(msg, new ProtocolError({ code: "Internal", message }), id, "handle");
      return;
    } finally {
      stats.inFlight--;
    }
    if (result instanceof ProtocolError) {
      stats.failed++;
      refuse(msg, result, id, "handle");
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = encode(options.replySchema, result);
    } catch (e) {
      stats.failed++;
      const message = `Report a bug: the reply does not match ${messageName(options.replySchema)}: ${
        e instanceof Error ? e.message.replaceAll("\n", " ") : String(e)
      }`;
      refuse(msg, new ProtocolError({ code: "Internal", message }), id, "handle");
      return;
    }
    stats.served++;
    if (msg.reply !== undefined) msg.respond(bytes, id !== undefined ? { [Headers.requestId]: id } : {});
  }, options.queue !== undefined ? { queue: options.queue } : {});

  return {
    subject: sub.subject,
    stats,
    unsubscribe: () => sub.unsubscribe(),
    drain: () => sub.drain(),
  };
}

/** Options of `listen`. */
export interface ListenOptions {
  readonly queue?: string;
  readonly maxBytes?: number;
  readonly deadLetterSubject?: string;
  readonly log?: LogFn;
}

/**
 * Subscribes to broadcast messages (events, heartbeats, model announcements): decodes each and
 * calls `handler`; bad messages go to the dead-letter subject, handler errors are logged.
 */
export function listen<A>(
  bus: Bus,
  subject: string,
  schema: MessageSchema<A>,
  handler: (message: A, msg: BusMessage) => void | Promise<void>,
  options: ListenOptions = {},
): Subscription {
  const log = options.log ?? stderrLog;
  const deadLetterSubject = options.deadLetterSubject ?? defaultDeadLetter(subject);
  return bus.subscribe(subject, async (msg) => {
    const decoded = decode(schema, msg.data, options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {});
    if (Result.isFailure(decoded)) {
      log({ level: "warn", msg: "Rejected bad message", subject: msg.subject, code: decoded.failure.code, error: decoded.failure.message });
      if (deadLetterSubject !== undefined && msg.subject !== deadLetterSubject) {
        publishDeadLetter(bus, deadLetterSubject, msg, decoded.failure, log);
      }
      return;
    }
    try {
      await handler(decoded.success, msg);
    } catch (e) {
      log({ level: "error", msg: "Handler failed", subject: msg.subject, error: e instanceof Error ? e.message : String(e) });
    }
  }, options.queue !== undefined ? { queue: options.queue } : {});
}

/** Encodes and publishes a message. */
export function publish<A>(bus: Bus, subject: string, schema: MessageSchema<A>, value: A): void {
  bus.publish(subject, encode(schema, value));
}

/** Publishes an event on `rstar.<run>.events.<kind>`, the subject its own `run` and `kind` name. */
export function publishEvent(bus: Bus, event: Event): void {
  publish(bus, runSubjects(event.run).events(event.kind), Event, event);
}

function defaultDeadLetter(subject: string): string | undefined {
  const run = runOfSubject(subject);
  return run === undefined ? undefined : runSubjects(run).deadletter;
}

function publishDeadLetter(bus: Bus, subject: string, msg: BusMessage, error: ProtocolError, log: LogFn): void {
  const sample = lenient.decode(msg.data.subarray(0, DEAD_LETTER_SAMPLE_BYTES));
  try {
    bus.publish(subject, encode(DeadLetter, {
      v: PROTOCOL_VERSION,
      subject: msg.subject,
      reason: error.code,
      message: error.message,
      sample,
      size: msg.data.byteLength,
    }));
  } catch (e) {
    log({ level: "error", msg: "Dead-letter publication failed", subject, error: e instanceof Error ? e.message : String(e) });
  }
}

/** Options of `call`. */
export interface CallOptions {
  /** Deadline of each attempt, in milliseconds. */
  readonly timeoutMs: number;
  /** Further attempts after a timeout, no-responders or Unavailable reply (default 0). */
  readonly retries?: number;
  /** Idempotency key sent in the `Rstar-Request-Id` header (default: the value's `id`). */
  readonly requestId?: string;
  /** First backoff in ms, doubled each retry up to `maxBackoffMs` (default 50). */
  readonly backoffMs?: number;
  /** Longest backoff in ms (default 2000). */
  readonly maxBackoffMs?: number;
  /** Jitter source: each backoff is scaled by a factor in [0.5, 1.5). Without it, no jitter. */
  readonly prng?: Prng;
  /** Waits between attempts (inject a fake to test without waiting). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Largest accepted reply in bytes. */
  readonly maxBytes?: number;
  /** Called before each retry. */
  readonly onRetry?: (attempt: number, error: CallError) => void;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True for failures worth retrying: a timeout, no responders, a dropped connection, or an Unavailable reply. */
export function isRetryable(error: CallError): boolean {
  if (error._tag === "BusError") {
    return error.reason === "Timeout" || error.reason === "NoResponders" || error.reason === "Disconnected";
  }
  return error._tag === "RemoteError" && error.code === "Unavailable";
}

/**
 * Sends a request and decodes its reply. Retries timeouts, no-responders, dropped connections and
 * Unavailable replies with exponential backoff, keeping the same request id (responders
 * deduplicate by it). An `ErrorReply` becomes a `RemoteError`. Never rejects for these failures: they are the `Result`'s failure.
 * The request is not checked against its schema here: the responder checks it and a bad one comes
 * back as a BadRequest `RemoteError`.
 */
export async function call<A, R>(
  bus: Bus,
  subject: string,
  requestSchema: RequestSchema<A>,
  replySchema: MessageSchema<R>,
  value: A,
  options: CallOptions,
): Promise<Result.Result<R, CallError>> {
  const bytes = encodeRequest(requestSchema, value);
  const valueId = (value as { id?: unknown }).id;
  const requestId = options.requestId ?? (typeof valueId === "string" ? valueId : undefined);
  const headers = requestId !== undefined ? { [Headers.requestId]: requestId } : undefined;
  const retries = options.retries ?? 0;
  const sleep = options.sleep ?? realSleep;
  let backoff = options.backoffMs ?? 50;
  const maxBackoff = options.maxBackoffMs ?? 2000;
  for (let attempt = 0;; attempt++) {
    const result = await attemptOnce(bus, subject, bytes, headers, replySchema, options);
    if (Result.isSuccess(result) || attempt >= retries || !isRetryable(result.failure)) return result;
    options.onRetry?.(attempt + 1, result.failure);
    const jitter = options.prng ? 0.5 + options.prng.float() : 1;
    await sleep(Math.round(Math.min(backoff, maxBackoff) * jitter));
    backoff *= 2;
  }
}

async function attemptOnce<R>(
  bus: Bus,
  subject: string,
  bytes: Uint8Array,
  headers: Record<string, string> | undefined,
  replySchema: MessageSchema<R>,
  options: CallOptions,
): Promise<Result.Result<R, CallError>> {
  let msg: BusMessage;
  try {
    msg = await bus.request(subject, bytes, { timeoutMs: options.timeoutMs, ...(headers ? { headers } : {}) });
  } catch (e) {
    if (e instanceof BusError) return Result.fail(e);
    return Result.fail(new BusError("Transport", subject, { cause: e }));
  }
  return decodeReply(subject, msg, replySchema, options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {});
}

/** Decodes a reply: an `ErrorReply` (by header or shape) becomes a `RemoteError`. */
export function decodeReply<R>(
  subject: string,
  msg: BusMessage,
  replySchema: MessageSchema<R>,
  options: DecodeOptions = {},
): Result.Result<R, RemoteError | ProtocolError> {
  const parsed = parsePayload(msg.data, options);
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure);
  const obj = parsed.success;
  const looksLikeError = msg.headers[Headers.errorCode] !== undefined ||
    (typeof obj.error === "object" && obj.error !== null && !Array.isArray(obj.error));
  if (looksLikeError) {
    const err = decodeValue(ErrorReply, obj);
    if (Result.isSuccess(err)) {
      return Result.fail(new RemoteError({ code: err.success.error.code, message: err.success.error.message, subject }));
    }
  }
  return decodeValue(replySchema, obj);
}

/** `call` as an Effect: succeeds with the reply, fails with a `CallError`. */
export function callEffect<A, R>(
  bus: Bus,
  subject: string,
  requestSchema: RequestSchema<A>,
  replySchema: MessageSchema<R>,
  value: A,
  options: CallOptions,
): Effect.Effect<R, CallError> {
  return Effect.flatMap(
    Effect.promise(() => call(bus, subject, requestSchema, replySchema, value, options)),
    (r) => Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(r.failure),
  );
}
