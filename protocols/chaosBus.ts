/**
 * Chaos mode for the bus: `ChaosBus` wraps any `Bus` and, per subject pattern and with a seed,
 * drops, duplicates, delays and reorders what this node sends — publications, requests and
 * replies. Every decision is drawn from a PRNG seeded by (seed, subject, n-th message on that
 * subject), so the same traffic gets the same faults. Counters say what was injected.
 *
 * Spec syntax (comma-separated `key=value`, optionally scoped with `@pattern`):
 *
 * | key | value | meaning |
 * | --- | --- | --- |
 * | `drop` | probability | the message is not sent (a dropped request times out) |
 * | `dup` | probability | the message is sent twice |
 * | `delay` | `A-Bms`, `A-Bs`, `Nms` | each message waits a uniform time in [A, B] first |
 * | `reorder` | probability | a publication is held back and sent after the next one on its subject |
 * | `crash` | `actor:probability` | (applied by actors) the actor throws on a message; repeatable |
 * | `kill-worker` | duration, e.g. `30s` | (applied by the evolve job) SIGKILL a worker process this often |
 * | `seed` | integer | seed of the fault decisions (default 0) |
 *
 * `@pattern` restricts a bus fault to subjects matching a NATS pattern; a pattern without a dot
 * names a run subject, so `drop=0.2@expand` means `rstar.*.expand`. For each subject and fault,
 * the first scoped entry that matches wins, else the unscoped one. A reply is judged by the
 * subject of the request it answers. Example: `drop=0.1,dup=0.05,delay=0-100ms,crash=expander:0.02,kill-worker=30s`.
 */
import { Result } from "effect";
import { Prng } from "../math/prng.ts";
import {
  type Bus,
  BusError,
  type BusMessage,
  type Handler,
  type PublishOptions,
  type RequestOptions,
  type SubscribeOptions,
  type Subscription,
} from "./bus.ts";
import { ProtocolError } from "./codec.ts";
import { type BusClock, subjectMatches, systemClock } from "./inProcessBus.ts";
import { type ChaosReply, type ChaosRequest, PROTOCOL_VERSION } from "./messages.ts";
import { runSubjects } from "./subjects.ts";

/** A delay range in milliseconds, both ends inclusive. */
export interface DelayRange {
  readonly minMs: number;
  readonly maxMs: number;
}

/** Bus faults for the subjects matching `pattern`; unset fields fall through to later rules. */
export interface ChaosRule {
  readonly pattern: string;
  readonly drop?: number;
  readonly dup?: number;
  readonly delay?: DelayRange;
  readonly reorder?: number;
}

/** An actor that throws on a message with probability `rate` (applied by the actors). */
export interface CrashFault {
  readonly actor: string;
  readonly rate: number;
}

/** A parsed chaos spec. */
export interface ChaosSpec {
  readonly seed: number;
  /** Scoped rules first (spec order), the unscoped rule (pattern `>`) last. */
  readonly rules: readonly ChaosRule[];
  readonly crash: readonly CrashFault[];
  /** SIGKILL a worker process this often (applied by the evolve job). */
  readonly killWorkerEveryMs?: number;
}

/** A spec that injects nothing. */
export const NO_CHAOS: ChaosSpec = { seed: 0, rules: [], crash: [] };

/** Why a chaos spec was refused. */
export interface ChaosSpecError {
  readonly _tag: "ChaosSpecError";
  readonly message: string;
}

const KNOWN_KEYS = ["drop", "dup", "delay", "reorder", "crash", "kill-worker", "seed"] as const;

function specError(message: string): Result.Result<never, ChaosSpecError> {
  return Result.fail({ _tag: "ChaosSpecError", message: `Fix the chaos spec: ${message}` });
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** Parses "250ms", "2s", "1.5m" into milliseconds; undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

function parseDelay(text: string): DelayRange | undefined {
  const single = parseDurationMs(text);
  if (single !== undefined) return { minMs: single, maxMs: single };
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?-(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!m) return undefined;
  const hiUnit = UNIT_MS[m[4]!]!;
  const loUnit = m[2] !== undefined ? UNIT_MS[m[2]]! : hiUnit;
  const minMs = Number(m[1]) * loUnit;
  const maxMs = Number(m[3]) * hiUnit;
  return minMs <= maxMs ? { minMs, maxMs } : undefined;
}

function parseProbability(key: string, text: string): Result.Result<number, ChaosSpecError> {
  const p = Number(text);
  if (text.trim() === "" || !Number.isFinite(p) || p < 0 || p > 1) {
    return specError(`${key.endsWith(":") ? key : `${key}=`}${text} must be a probability between 0 and 1`);
  }
  return Result.succeed(p);
}

/** The actors `crash=actor:rate` applies to: those that serve requests in a search. */
export const CRASH_ACTORS = ["expander", "scorer"] as const;

/** The one-token names of a run's subjects (`rstar.<run>.NAME`): what a short `@pattern` may name. */
const RUN_SUBJECT_NAMES = Object.values(runSubjects("run"))
  .filter((v): v is string => typeof v === "string" && /^[^.]+\.run\.[A-Za-z]+$/.test(v))
  .map((v) => v.split(".")[2]!);

/**
 * Expands a short pattern ("expand") into a run subject pattern ("rstar.*.expand"); why it is
 * refused when it is empty, names no subject of a run, or is not a NATS pattern.
 */
function expandPattern(key: string, pattern: string): Result.Result<string, ChaosSpecError> {
  if (pattern === "") return specError(`${key}=...@ names no subjects after the @ (e.g. @expand, or no @ for all)`);
  if (pattern === ">") return Result.succeed(pattern);
  if (!pattern.includes(".")) {
    if (pattern === "*" || RUN_SUBJECT_NAMES.includes(pattern)) return Result.succeed(`rstar.*.${pattern}`);
    return specError(
      `@${pattern} names no subject of a run (use ${RUN_SUBJECT_NAMES.join(", ")}, or a full pattern such as rstar.*.events.>)`,
    );
  }
  const tokens = pattern.split(".");
  const bad = tokens.some((t, i) => !/^[A-Za-z0-9_-]+$|^\*$/.test(t) && !(t === ">" && i === tokens.length - 1));
  return bad ? specError(`"${pattern}" is not a subject pattern`) : Result.succeed(pattern);
}

/**
 * Parses a chaos spec such as "drop=0.1,dup=0.05,delay=0-100ms,crash=expander:0.02,kill-worker=30s".
 * An empty string (or "none") means no faults; an unknown key or bad value is a `ChaosSpecError`.
 */
export function parseChaosSpec(text: string): Result.Result<ChaosSpec, ChaosSpecError> {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed === "none") return Result.succeed(NO_CHAOS);
  let seed = 0;
  let killWorkerEveryMs: number | undefined;
  const crash: CrashFault[] = [];
  const scoped = new Map<string, { drop?: number; dup?: number; delay?: DelayRange; reorder?: number }>();
  /** Each key once per scope (a crash once per actor): a second would silently replace the first. */
  const given = new Set<string>();
  for (const raw of trimmed.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) return specError(`"${item}" is not key=value`);
    const key = item.slice(0, eq).trim();
    let value = item.slice(eq + 1).trim();
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      return specError(`unknown key "${key}" (known: ${KNOWN_KEYS.join(", ")})`);
    }
    let pattern = ">";
    const at = value.indexOf("@");
    if (at >= 0) {
      if (key !== "drop" && key !== "dup" && key !== "delay" && key !== "reorder") {
        return specError(`${key} cannot be scoped to a subject with @`);
      }
      const expanded = expandPattern(key, value.slice(at + 1).trim());
      if (Result.isFailure(expanded)) return Result.fail(expanded.failure);
      pattern = expanded.success;
      value = value.slice(0, at).trim();
    }
    const once = key === "crash" ? `crash=${value.split(":")[0]}` : pattern === ">" ? key : `${key}@${pattern}`;
    if (given.has(once)) return specError(`${once} is given twice (give each fault once)`);
    given.add(once);
    const rule = scoped.get(pattern) ?? {};
    scoped.set(pattern, rule);
    switch (key) {
      case "drop":
      case "dup":
      case "reorder": {
        const p = parseProbability(key, value);
        if (Result.isFailure(p)) return Result.fail(p.failure);
        rule[key] = p.success;
        break;
      }
      case "delay": {
        const d = parseDelay(value);
        if (!d) return specError(`delay=${value} must be a duration or a range such as 0-100ms`);
        rule.delay = d;
        break;
      }
      case "crash": {
        const m = /^([A-Za-z][A-Za-z0-9_-]*):(.+)$/.exec(value);
        if (!m) return specError(`crash=${value} must be actor:probability, e.g. expander:0.02`);
        if (!(CRASH_ACTORS as readonly string[]).includes(m[1]!)) {
          return specError(`crash=${value}: no actor "${m[1]}" crashes on demand (use ${CRASH_ACTORS.join(" or ")})`);
        }
        const p = parseProbability(`${key}=${m[1]!}:`, m[2]!);
        if (Result.isFailure(p)) return Result.fail(p.failure);
        crash.push({ actor: m[1]!, rate: p.success });
        break;
      }
      case "kill-worker": {
        const ms = parseDurationMs(value);
        if (ms === undefined || ms <= 0) return specError(`kill-worker=${value} must be a positive duration such as 30s`);
        killWorkerEveryMs = ms;
        break;
      }
      case "seed": {
        const n = Number(value);
        if (!Number.isSafeInteger(n)) return specError(`seed=${value} must be an integer`);
        seed = n;
        break;
      }
    }
  }
  const rules: ChaosRule[] = [];
  for (const [pattern, r] of scoped) {
    if (pattern !== ">" && Object.keys(r).length > 0) rules.push({ pattern, ...r });
  }
  const base = scoped.get(">");
  if (base && Object.keys(base).length > 0) rules.push({ pattern: ">", ...base });
  return Result.succeed({ seed, rules, crash, ...(killWorkerEveryMs !== undefined ? { killWorkerEveryMs } : {}) });
}

function fmtMs(ms: number): string {
  return `${ms}ms`;
}

/** The canonical text of a spec (parses back to an equal spec). */
export function formatChaosSpec(spec: ChaosSpec): string {
  const parts: string[] = [];
  const scope = (p: string) => (p === ">" ? "" : `@${p}`);
  for (const r of spec.rules) {
    if (r.drop !== undefined) parts.push(`drop=${r.drop}${scope(r.pattern)}`);
    if (r.dup !== undefined) parts.push(`dup=${r.dup}${scope(r.pattern)}`);
    if (r.delay !== undefined) parts.push(`delay=${r.delay.minMs}-${fmtMs(r.delay.maxMs)}${scope(r.pattern)}`);
    if (r.reorder !== undefined) parts.push(`reorder=${r.reorder}${scope(r.pattern)}`);
  }
  for (const c of spec.crash) parts.push(`crash=${c.actor}:${c.rate}`);
  if (spec.killWorkerEveryMs !== undefined) parts.push(`kill-worker=${fmtMs(spec.killWorkerEveryMs)}`);
  if (spec.seed !== 0) parts.push(`seed=${spec.seed}`);
  return parts.join(",");
}

/** The crash rate the spec sets for `actor` (0 when none). */
export function crashRate(spec: ChaosSpec, actor: string): number {
  return spec.crash.find((c) => c.actor === actor)?.rate ?? 0;
}

/** The faults decided for one message. */
export interface ChaosDecision {
  readonly drop: boolean;
  readonly dup: boolean;
  readonly delayMs: number;
  readonly reorder: boolean;
}

/** What a `ChaosBus` has injected so far. */
export interface ChaosCounters {
  /** Messages (publications, requests, replies) that went through the fault decision. */
  seen: number;
  dropped: number;
  duplicated: number;
  delayed: number;
  reordered: number;
}

/** Options of `ChaosBus`. */
export interface ChaosBusOptions {
  /** Timers for delays (inject a fake one in tests). */
  readonly clock?: BusClock;
  /** Overrides the spec's seed (e.g. with the run seed). */
  readonly seed?: number;
  /** Called for each injected fault. */
  readonly onFault?: (fault: "drop" | "dup" | "delay" | "reorder", subject: string) => void;
}

/**
 * Decides faults for the n-th message on `subject` under `spec`: a pure function of its inputs.
 * `stream` separates independent message streams on one subject (replies use "reply").
 */
export function decideChaos(spec: ChaosSpec, seed: number, subject: string, n: number, stream = ""): ChaosDecision {
  const pick = <K extends "drop" | "dup" | "delay" | "reorder">(k: K): ChaosRule[K] | undefined => {
    for (const r of spec.rules) if (r[k] !== undefined && subjectMatches(r.pattern, subject)) return r[k];
    return undefined;
  };
  const drop = pick("drop") ?? 0;
  const dup = pick("dup") ?? 0;
  const delay = pick("delay");
  const reorder = pick("reorder") ?? 0;
  if (drop === 0 && dup === 0 && delay === undefined && reorder === 0) {
    return { drop: false, dup: false, delayMs: 0, reorder: false };
  }
  const rng = Prng.fromSeed(`${seed}\u0000${stream}\u0000${subject}\u0000${n}`);
  // Draw every variable in a fixed order so one knob's value never shifts another's decisions.
  const dDrop = rng.float();
  const dDup = rng.float();
  const dDelay = rng.float();
  const dReorder = rng.float();
  const delayMs = delay === undefined ? 0 : Math.round(delay.minMs + dDelay * (delay.maxMs - delay.minMs));
  return { drop: dDrop < drop, dup: dDup < dup, delayMs, reorder: dReorder < reorder };
}

/** A `Bus` that injects faults into what it sends, per a `ChaosSpec` settable at run time. */
export class ChaosBus implements Bus {
  /** Transport name: the inner bus's, marked as chaotic. */
  readonly kind: string;
  private spec: ChaosSpec;
  private readonly seedOverride: number | undefined;
  private readonly clock: BusClock;
  private readonly perSubject = new Map<string, number>();
  private readonly held = new Map<string, { data: Uint8Array; options: PublishOptions; timer: unknown }>();
  private pendingTimers = 0;
  private requestsOut = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly counters: ChaosCounters = { seen: 0, dropped: 0, duplicated: 0, delayed: 0, reordered: 0 };

  constructor(readonly inner: Bus, spec: ChaosSpec, private readonly options: ChaosBusOptions = {}) {
    this.kind = `${inner.kind}+chaos`;
    this.spec = spec;
    this.seedOverride = options.seed;
    this.clock = options.clock ?? systemClock;
  }

  /** Replaces the spec; later messages follow the new one. */
  setSpec(spec: ChaosSpec): void {
    this.spec = spec;
  }

  /** The spec in force. */
  getSpec(): ChaosSpec {
    return this.spec;
  }

  /** A copy of the counters of injected faults. */
  stats(): ChaosCounters {
    return { ...this.counters };
  }

  /** Requests sent through this bus that await their reply (or their timeout). */
  inFlight(): number {
    return this.requestsOut;
  }

  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): void {
    const d = this.decide(subject);
    if (d.drop) return;
    const send = () => this.sendOrReorder(subject, data, options, d.reorder);
    this.schedule(d.delayMs, send);
    if (d.dup) this.schedule(d.delayMs, () => this.safePublish(subject, data, options));
  }

  subscribe(subject: string, handler: Handler, options?: SubscribeOptions): Subscription {
    return this.inner.subscribe(subject, (msg) => handler(this.wrapMessage(msg)), options);
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage> {
    const d = this.decide(subject);
    if (d.drop) {
      await this.wait(options.timeoutMs);
      throw new BusError("Timeout", subject);
    }
    if (d.delayMs > 0) await this.wait(Math.min(d.delayMs, options.timeoutMs));
    const remaining = options.timeoutMs - d.delayMs;
    if (remaining <= 0) throw new BusError("Timeout", subject);
    const opts = { ...options, timeoutMs: remaining };
    if (d.dup) this.inner.request(subject, data, opts).catch(() => {});
    this.requestsOut++;
    try {
      return this.wrapMessage(await this.inner.request(subject, data, opts));
    } finally {
      this.requestsOut--;
    }
  }

  async flush(): Promise<void> {
    await this.idle();
    await this.inner.flush();
  }

  async drain(): Promise<void> {
    await this.idle();
    await this.inner.drain();
  }

  async close(): Promise<void> {
    for (const [, h] of this.held) this.clock.clearTimeout(h.timer);
    this.held.clear();
    await this.inner.close();
  }

  private decide(subject: string, stream = ""): ChaosDecision {
    const key = `${stream}\u0000${subject}`;
    const n = this.perSubject.get(key) ?? 0;
    this.perSubject.set(key, n + 1);
    const d = decideChaos(this.spec, this.seedOverride ?? this.spec.seed, subject, n, stream);
    this.counters.seen++;
    if (d.drop) this.count("drop", subject);
    else {
      if (d.dup) this.count("dup", subject);
      if (d.delayMs > 0) this.count("delay", subject);
      if (d.reorder) this.count("reorder", subject);
    }
    return d;
  }

  private count(fault: "drop" | "dup" | "delay" | "reorder", subject: string): void {
    const key = ({ drop: "dropped", dup: "duplicated", delay: "delayed", reorder: "reordered" } as const)[fault];
    this.counters[key]++;
    this.options.onFault?.(fault, subject);
  }

  private wrapMessage(msg: BusMessage): BusMessage {
    return {
      subject: msg.subject,
      data: msg.data,
      headers: msg.headers,
      ...(msg.reply !== undefined ? { reply: msg.reply } : {}),
      respond: (data, headers) => {
        if (msg.reply === undefined) return false;
        // A reply is judged by the request's subject, counted on its own stream.
        const d = this.decide(msg.subject, "reply");
        if (d.drop) return true;
        this.schedule(d.delayMs, () => void msg.respond(data, headers));
        if (d.dup) this.schedule(d.delayMs, () => void msg.respond(data, headers));
        return true;
      },
    };
  }

  private sendOrReorder(subject: string, data: Uint8Array, options: PublishOptions, reorder: boolean): void {
    const prior = this.held.get(subject);
    if (reorder && !prior) {
      // Hold this one until the next publication on the subject (or a short while, at most).
      const timer = this.clock.setTimeout(() => this.release(subject), 50);
      this.pendingTimers++;
      this.held.set(subject, { data, options, timer });
      return;
    }
    this.safePublish(subject, data, options);
    if (prior) this.release(subject);
  }

  private release(subject: string): void {
    const h = this.held.get(subject);
    if (!h) return;
    this.held.delete(subject);
    this.clock.clearTimeout(h.timer);
    this.safePublish(subject, h.data, h.options);
    this.timerDone();
  }

  private safePublish(subject: string, data: Uint8Array, options: PublishOptions): void {
    try {
      this.inner.publish(subject, data, options);
    } catch {
      // A delayed message that finds the bus closed is lost, as on a real network.
    }
  }

  private schedule(delayMs: number, fn: () => void): void {
    if (delayMs <= 0) {
      fn();
      return;
    }
    this.pendingTimers++;
    this.clock.setTimeout(() => {
      try {
        fn();
      } finally {
        this.timerDone();
      }
    }, delayMs);
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  private timerDone(): void {
    this.pendingTimers--;
    if (this.pendingTimers === 0) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }

  private idle(): Promise<void> {
    if (this.pendingTimers === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

/** What `.control.chaos` changes: a `ChaosBus`, or a run that fans the spec out to its parts. */
export interface ChaosControl {
  /** Puts `spec` in force. */
  setSpec(spec: ChaosSpec): void;
  /** Why `spec` cannot be applied here (e.g. kill-worker without worker processes), if it cannot. */
  refuse?(spec: ChaosSpec): string | undefined;
}

/**
 * The handler of `rstar.<run>.control.chaos` for `serve`: parses the requested spec, sets it on
 * `target` and replies with its canonical text; a bad spec, or one the target refuses, is a
 * BadRequest naming the problem (and changes nothing).
 */
export function chaosControlHandler(target: ChaosControl): (request: ChaosRequest) => ChaosReply | ProtocolError {
  return (request) => {
    const parsed = parseChaosSpec(request.spec);
    if (Result.isFailure(parsed)) return new ProtocolError({ code: "BadRequest", message: parsed.failure.message });
    const refused = target.refuse?.(parsed.success);
    if (refused !== undefined) return new ProtocolError({ code: "BadRequest", message: refused });
    target.setSpec(parsed.success);
    return { v: PROTOCOL_VERSION, id: request.id, spec: formatChaosSpec(parsed.success) };
  };
}
