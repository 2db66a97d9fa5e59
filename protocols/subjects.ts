/**
 * Every NATS subject of a run, built from one prefix: `rstar.<run>.<what>`. No other module
 * spells a subject by hand. Run names are single NATS tokens, validated here.
 *
 * @example
 * const s = runSubjects("demo");
 * s.expand;               // "rstar.demo.expand"
 * s.events("node-expanded"); // "rstar.demo.events.node-expanded"
 * s.control("status");    // "rstar.demo.control.status"
 */

/** The first token of every subject of this protocol. */
export const SUBJECT_ROOT = "rstar";

/** Verbs accepted on `rstar.<run>.control.<verb>`. */
export const ControlVerbs = ["status", "pause", "resume", "set", "solve", "chaos"] as const;
/** One control verb. */
export type ControlVerb = (typeof ControlVerbs)[number];

/** Kinds of observability events published on `rstar.<run>.events.<kind>`. */
export const EventKinds = [
  "node-expanded",
  "problem-solved",
  "round-phase",
  "model-published",
  "worker-restarted",
  "fault-injected",
] as const;
/** One event kind. */
export type EventKind = (typeof EventKinds)[number];

/** Queue group names: each message on a work subject goes to one member of its group. */
export const QueueGroups = {
  expander: "rstar-expanders",
  scorer: "rstar-scorers",
  trainer: "rstar-trainers",
  control: "rstar-control",
} as const;
/** A queue group name. */
export type QueueGroup = (typeof QueueGroups)[keyof typeof QueueGroups];

/** Longest accepted run name. */
export const MAX_RUN_NAME_LENGTH = 64;

const RUN_NAME = /^[A-Za-z0-9_-]+$/;

/** Why a run name was refused. */
export interface InvalidRunName {
  readonly _tag: "InvalidRunName";
  readonly name: string;
  readonly message: string;
}

/** Checks that `name` is one NATS-safe token (letters, digits, `_`, `-`; 1–64 characters). */
export function validateRunName(name: string): InvalidRunName | undefined {
  const fail = (why: string): InvalidRunName => ({
    _tag: "InvalidRunName",
    name,
    message: `Choose another run name: ${JSON.stringify(name)} ${why}`,
  });
  if (name.length === 0) return fail("is empty");
  if (name.length > MAX_RUN_NAME_LENGTH) return fail(`is longer than ${MAX_RUN_NAME_LENGTH} characters`);
  if (!RUN_NAME.test(name)) {
    return fail("may hold only letters, digits, '_' and '-' (no dots, spaces or wildcards)");
  }
  return undefined;
}

/** The subjects of one run. */
export interface RunSubjects {
  readonly run: string;
  /** `rstar.<run>`: the prefix of everything below. */
  readonly prefix: string;
  /** `rstar.<run>.>`: every subject of the run (for monitors). */
  readonly all: string;
  /** Expansion requests (queue group `QueueGroups.expander`). */
  readonly expand: string;
  /** Scoring and grading requests (queue group `QueueGroups.scorer`). */
  readonly score: string;
  /** Training requests (queue group `QueueGroups.trainer`). */
  readonly train: string;
  /** New model version announcements (`ModelPublished`), to every worker. */
  readonly model: string;
  /** Subject of one event kind. */
  events(kind: EventKind): string;
  /** `rstar.<run>.events.>`: every event. */
  readonly eventsAll: string;
  /** Subject of one control verb. */
  control(verb: ControlVerb): string;
  /** `rstar.<run>.control.*`: every control verb. */
  readonly controlAll: string;
  /** Worker heartbeats. */
  readonly heartbeat: string;
  /** Records of undeliverable or undecodable messages that had no reply subject. */
  readonly deadletter: string;
}

/** Builds the subjects of run `run`; a name that fails `validateRunName` is a bug (validate input first). */
export function runSubjects(run: string): RunSubjects {
  const invalid = validateRunName(run);
  if (invalid) throw new RangeError(invalid.message);
  const prefix = `${SUBJECT_ROOT}.${run}`;
  return {
    run,
    prefix,
    all: `${prefix}.>`,
    expand: `${prefix}.expand`,
    score: `${prefix}.score`,
    train: `${prefix}.train`,
    model: `${prefix}.model`,
    events: (kind) => `${prefix}.events.${kind}`,
    eventsAll: `${prefix}.events.>`,
    control: (verb) => `${prefix}.control.${verb}`,
    controlAll: `${prefix}.control.*`,
    heartbeat: `${prefix}.heartbeat`,
    deadletter: `${prefix}.deadletter`,
  };
}

/** The run token of a subject of this protocol, or undefined for a foreign subject. */
export function runOfSubject(subject: string): string | undefined {
  const parts = subject.split(".");
  if (parts.length < 3 || parts[0] !== SUBJECT_ROOT) return undefined;
  const run = parts[1]!;
  return validateRunName(run) ? undefined : run;
}

/** Subject patterns with `<run>` in place of the run name, for documentation. */
export function subjectPatterns(): { subject: string; queue?: string; what: string }[] {
  const p = `${SUBJECT_ROOT}.<run>`;
  return [
    { subject: `${p}.expand`, queue: QueueGroups.expander, what: "ExpandRequest → ExpandReply or ErrorReply" },
    { subject: `${p}.score`, queue: QueueGroups.scorer, what: "ScoreRequest → ScoreReply or ErrorReply" },
    { subject: `${p}.train`, queue: QueueGroups.trainer, what: "TrainRequest → TrainReply or ErrorReply" },
    { subject: `${p}.model`, what: "ModelPublished (broadcast)" },
    ...EventKinds.map((k) => ({ subject: `${p}.events.${k}`, what: `Event with kind "${k}" (broadcast)` })),
    ...ControlVerbs.map((v) => ({
      subject: `${p}.control.${v}`,
      queue: QueueGroups.control,
      what: `${controlName(v)}Request → ${v === "pause" || v === "resume" ? "RunState" : controlName(v)}Reply or ErrorReply`,
    })),
    { subject: `${p}.heartbeat`, what: "Heartbeat (broadcast, every few seconds per worker)" },
    { subject: `${p}.deadletter`, what: "DeadLetter (broadcast)" },
  ];
}

/** "status" → "Status": the message-name stem of a control verb. */
export function controlName(verb: ControlVerb): string {
  return verb.charAt(0).toUpperCase() + verb.slice(1);
}
