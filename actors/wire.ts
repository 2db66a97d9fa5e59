/**
 * The actors' side of the wire until `protocols/` publishes its schemas and codec: subject
 * builders, the JSON payloads the actors exchange, and `serve`/`call` helpers. Every payload is
 * checked at the boundary (`decode*` return tagged errors, never throw); a bad request gets an
 * error reply, or a dead-letter record when it has no reply subject.
 */
import type { Step } from "../math/contracts.ts";
import type { Bus, BusMessage, Subscription } from "../protocols/bus.ts";
import { BusError, Headers } from "../protocols/bus.ts";
import type { ExpandedCandidate } from "./expanderMachine.ts";

/** Protocol version of the payloads below. */
export const protocolVersion = 1;

/** Largest payload a worker accepts. */
export const maxPayloadBytes = 1 << 20;

/** Subjects of one run. */
export function subjects(run: string) {
  const p = `rstar.${run}`;
  return {
    expand: `${p}.expand`,
    score: `${p}.score`,
    train: `${p}.train`,
    model: `${p}.model`,
    deadLetter: `${p}.dead-letter`,
    event: (kind: string) => `${p}.events.${kind}`,
    control: (verb: string) => `${p}.control.${verb}`,
    heartbeat: `${p}.heartbeat`,
  } as const;
}

/** Asks an Expander for k candidate next steps. */
export interface ExpandRequest {
  readonly id: string;
  readonly problem: string;
  readonly steps: Step[];
  readonly k: number;
  readonly temperature: number;
  readonly topP: number;
  readonly seed: number;
}

/** An Expander's answer. */
export interface ExpandReply {
  readonly id: string;
  readonly candidates: ExpandedCandidate[];
  readonly policyVersion: string;
  readonly batchSize: number;
  readonly worker: string;
}

/** Asks a Scorer for PPM values of items and/or grades of terminal answers. */
export interface ScoreRequest {
  readonly id: string;
  readonly problem: string;
  readonly items: { readonly steps: Step[]; readonly candidate: Step }[];
  readonly grades: { readonly answer: string; readonly reference: string }[];
}

/** A Scorer's answer. */
export interface ScoreReply {
  readonly id: string;
  readonly values: number[];
  readonly grades: boolean[];
  readonly scorerVersion: string;
  readonly worker: string;
}

/** A new model version, stored in the BlobStore under `blob`. */
export interface ModelAnnouncement {
  readonly role: "policy" | "scorer";
  readonly version: string;
  readonly blob: string;
}

/** An error reply body. */
export interface ErrorReply {
  readonly error: { readonly _tag: string; readonly message: string };
}

/** A payload that failed the boundary check. */
export interface BadMessage {
  readonly _tag: "BadMessage";
  readonly message: string;
}

/** A request that failed: a bus failure, an error reply, or an undecodable reply. */
export type CallError =
  | { readonly _tag: "BusFailure"; readonly reason: string; readonly message: string }
  | { readonly _tag: "ErrorReply"; readonly code: string; readonly message: string }
  | BadMessage;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a payload with its protocol version. */
export function encode(value: object): Uint8Array {
  return encoder.encode(JSON.stringify({ v: protocolVersion, ...value }));
}

type Check<T> = (x: Record<string, unknown>) => T | BadMessage;

/** Decodes and checks a payload. */
export function decode<T>(data: Uint8Array, check: Check<T>): T | BadMessage {
  if (data.byteLength > maxPayloadBytes) return bad(`Cannot accept payload: ${data.byteLength} bytes exceeds ${maxPayloadBytes}`);
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (err) {
    return bad(`Cannot parse payload: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return bad("Cannot decode payload: not an object");
  const obj = value as Record<string, unknown>;
  if (obj.v !== protocolVersion) return bad(`Cannot decode payload: protocol version ${String(obj.v)} is not ${protocolVersion}`);
  return check(obj);
}

function bad(message: string): BadMessage {
  return { _tag: "BadMessage", message };
}

/** Whether a value is a `BadMessage`. */
export function isBad(x: unknown): x is BadMessage {
  return typeof x === "object" && x !== null && (x as { _tag?: unknown })._tag === "BadMessage";
}

const isStep = (s: unknown): s is Step =>
  typeof s === "object" && s !== null && typeof (s as Step).text === "string" && typeof (s as Step).code === "string";

/** Checks an ExpandRequest. */
export const checkExpandRequest: Check<ExpandRequest> = (x) => {
  if (typeof x.id !== "string" || x.id === "") return bad("Cannot decode ExpandRequest: id must be a non-empty string");
  if (typeof x.problem !== "string") return bad("Cannot decode ExpandRequest: problem must be a string");
  if (!Array.isArray(x.steps) || !x.steps.every(isStep)) return bad("Cannot decode ExpandRequest: steps must be {text, code}[]");
  if (!Number.isInteger(x.k) || (x.k as number) < 1 || (x.k as number) > 64) return bad("Cannot decode ExpandRequest: k must be an integer in [1, 64]");
  for (const f of ["temperature", "topP", "seed"] as const) {
    if (typeof x[f] !== "number" || !Number.isFinite(x[f])) return bad(`Cannot decode ExpandRequest: ${f} must be a number`);
  }
  return x as unknown as ExpandRequest;
};

/** Checks an ExpandReply. */
export const checkExpandReply: Check<ExpandReply> = (x) => {
  if (typeof x.id !== "string" || !Array.isArray(x.candidates) || typeof x.policyVersion !== "string") {
    return bad("Cannot decode ExpandReply: id, candidates and policyVersion are required");
  }
  return x as unknown as ExpandReply;
};

/** Checks a ScoreRequest. */
export const checkScoreRequest: Check<ScoreRequest> = (x) => {
  if (typeof x.id !== "string" || x.id === "") return bad("Cannot decode ScoreRequest: id must be a non-empty string");
  if (typeof x.problem !== "string") return bad("Cannot decode ScoreRequest: problem must be a string");
  if (!Array.isArray(x.items) || !x.items.every((i) => Array.isArray(i?.steps) && i.steps.every(isStep) && isStep(i?.candidate))) {
    return bad("Cannot decode ScoreRequest: items must be {steps, candidate}[]");
  }
  if (!Array.isArray(x.grades) || !x.grades.every((g) => typeof g?.answer === "string" && typeof g?.reference === "string")) {
    return bad("Cannot decode ScoreRequest: grades must be {answer, reference}[]");
  }
  return x as unknown as ScoreRequest;
};

/** Checks a ScoreReply. */
export const checkScoreReply: Check<ScoreReply> = (x) => {
  if (typeof x.id !== "string" || !Array.isArray(x.values) || !Array.isArray(x.grades) || typeof x.scorerVersion !== "string") {
    return bad("Cannot decode ScoreReply: id, values, grades and scorerVersion are required");
  }
  return x as unknown as ScoreReply;
};

/** Checks a ModelAnnouncement. */
export const checkModelAnnouncement: Check<ModelAnnouncement> = (x) => {
  if ((x.role !== "policy" && x.role !== "scorer") || typeof x.version !== "string" || typeof x.blob !== "string") {
    return bad("Cannot decode ModelAnnouncement: role, version and blob are required");
  }
  return x as unknown as ModelAnnouncement;
};

/** Accepts any object payload. */
export const checkAny: Check<Record<string, unknown>> = (x) => x;

/** Replies with an error body and the error-code header. */
export function replyError(msg: BusMessage, code: string, message: string): void {
  msg.respond(encode({ error: { _tag: code, message } }), { [Headers.errorCode]: code });
}

/**
 * Serves requests on `subject`: decodes each with `check`, hands it to `handle`, encodes the
 * reply. A bad payload gets a `BadRequest` error reply (or a dead-letter record without a reply
 * subject); a handler failure gets an `Internal` error reply. Never throws into the bus.
 */
export function serve<Req, Rep extends object>(
  bus: Bus,
  subject: string,
  check: Check<Req>,
  handle: (req: Req, msg: BusMessage) => Promise<Rep>,
  options: { queue?: string; deadLetter: string; onError?: (err: unknown) => void },
): Subscription {
  return bus.subscribe(subject, async (msg) => {
    const req = decode(msg.data, check);
    if (isBad(req)) {
      if (msg.reply !== undefined) replyError(msg, "BadRequest", req.message);
      else bus.publish(options.deadLetter, encode({ subject, reason: req.message, bytes: msg.data.byteLength }));
      return;
    }
    try {
      const rep = await handle(req, msg);
      msg.respond(encode(rep));
    } catch (err) {
      options.onError?.(err);
      replyError(msg, "Internal", err instanceof Error ? err.message : String(err));
    }
  }, options.queue === undefined ? {} : { queue: options.queue });
}

/** Sends a request and decodes the reply; failures come back as tagged values. */
export async function call<Rep, Req extends { readonly id: string } = { readonly id: string }>(
  bus: Bus,
  subject: string,
  request: Req,
  check: Check<Rep>,
  timeoutMs: number,
): Promise<Rep | CallError> {
  let msg: BusMessage;
  try {
    msg = await bus.request(subject, encode(request), { timeoutMs, headers: { [Headers.requestId]: request.id } });
  } catch (err) {
    if (err instanceof BusError) return { _tag: "BusFailure", reason: err.reason, message: err.message };
    return { _tag: "BusFailure", reason: "Transport", message: err instanceof Error ? err.message : String(err) };
  }
  const code = msg.headers[Headers.errorCode];
  if (code !== undefined) {
    const body = decode(msg.data, checkAny);
    const message = isBad(body) ? "unreadable error reply" : String((body.error as { message?: unknown })?.message);
    return { _tag: "ErrorReply", code, message };
  }
  return decode(msg.data, check);
}
