/**
 * Every message of the protocol, defined once with Effect Schema. Each payload is a JSON object
 * carrying `v: 2` (the protocol version); the TypeScript types are derived from the schemas.
 * `docs/PROTOCOL.md` is generated from these schemas (`scripts/gen-protocol-doc.ts`).
 *
 * Extra keys are ignored on decode, so a newer peer may add optional fields without a version
 * bump; removing or retyping a field needs a new `v`.
 */
import { Schema } from "effect";

/** The protocol version every payload carries in `v`. */
export const PROTOCOL_VERSION = 2 as const;

/** Schema of the `v` field. */
export const Version = Schema.Literal(PROTOCOL_VERSION).annotate({
  description: "Protocol version; a peer answers any other value with a VersionMismatch error",
});

/** Most candidates per expansion (`k`) a request, a knob or a run's settings may ask for. */
export const MAX_K = 256;
/**
 * Most rollouts per problem a knob, a solve request or a run's settings may ask for: a tree
 * spends rollouts that reach a known terminal without a model call, so an absurd budget would
 * hold the process in a loop.
 */
export const MAX_ROLLOUTS = 10_000;

const Id = Schema.String.check(Schema.isMinLength(1)).annotate({
  description: "Idempotency key: a retried request keeps its id, and a responder may answer a repeat from cache",
});
const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0));
const WorkMs = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
  description:
    "Milliseconds the responder spent on the request, from its decoded request to its reply (batching wait, model and execution; not decode, encode or transport)",
});
const Versions = Schema.Record(Schema.String, Schema.String).annotate({
  description: "Model versions in use, by model name (e.g. {\"policy\": \"policy-r2\", \"ppm\": \"ppm-r2\"})",
});

// ---------------------------------------------------------------------------------------------
// Domain pieces (mirror math/contracts.ts)

/** One code-augmented step: a one-line comment and step-language code. */
export const StepSchema = Schema.Struct({
  text: Schema.String,
  code: Schema.String,
}).annotate({ title: "Step" });
/** A step on the wire. */
export type StepMsg = typeof StepSchema.Type;

/** Kinds of execution failure (math/contracts.ts `ExecErrorKind`). */
export const ExecErrorKindSchema = Schema.Literals([
  "SyntaxError",
  "NameError",
  "ZeroDivisionError",
  "TypeError",
  "ValueError",
  "LimitExceeded",
  "Unsupported",
]);

/** Why a candidate step's code failed. */
export const ExecErrorSchema = Schema.Struct({
  kind: ExecErrorKindSchema,
  message: Schema.String,
  line: Count,
}).annotate({ title: "ExecError" });
/** An execution error on the wire. */
export type ExecErrorMsg = typeof ExecErrorSchema.Type;

/** The answer to one number-shifted variant of a problem (math/contracts.ts `AnswerCheck`). */
export const AnswerCheckSchema = Schema.Struct({
  numbers: Schema.Record(Schema.String, Schema.String).annotate({ description: "Each number of the problem text and its replacement" }),
  answer: Schema.String,
}).annotate({ title: "AnswerCheck" });

/** A candidate next step with the result of running its code. */
export const CandidateSchema = Schema.Struct({
  step: StepSchema,
  stdout: Schema.String,
  error: Schema.optionalKey(ExecErrorSchema),
  terminal: Schema.Boolean.annotate({ description: "True when the step printed the final answer" }),
  answer: Schema.optionalKey(Schema.String),
  logprob: Schema.Finite,
  correct: Schema.optionalKey(Schema.Boolean.annotate({
    description:
      "The answer's grade against the request's reference, on terminal candidates with an answer when the request carries `grade`; where it is missing, the Searcher has a Scorer grade the answer",
  })),
}).annotate({ title: "Candidate" });
/** A candidate on the wire. */
export type Candidate = typeof CandidateSchema.Type;

// ---------------------------------------------------------------------------------------------
// Expansion

/** One node of a problem's tree to expand: the steps that lead to it and the seed of its sampling. */
export const ExpandAskSchema = Schema.Struct({
  steps: Schema.Array(StepSchema),
  seed: Schema.Int,
}).annotate({ title: "ExpandAsk" });
/** An ask on the wire. */
export type ExpandAsk = typeof ExpandAskSchema.Type;

/** How to grade terminal candidates (training search only; a test-time search never sends it). */
export const ExpandGradeSchema = Schema.Struct({
  reference: Schema.String,
  checks: Schema.optionalKey(Schema.Array(AnswerCheckSchema).annotate({
    description: "Variant answers a terminal trajectory's code must also get (two thirds of them) to be graded correct",
  })),
}).annotate({ title: "ExpandGrade" });

/**
 * Asks an Expander for k candidate next steps after each ask's steps, all of one problem (a wave
 * of a tree's expansions in one message). Subject `rstar.<run>.expand`.
 */
export const ExpandRequest = Schema.Struct({
  v: Version,
  id: Id,
  run: Schema.String,
  problem: Schema.String,
  asks: Schema.Array(ExpandAskSchema).check(Schema.isMinLength(1), Schema.isMaxLength(256)),
  k: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: MAX_K })),
  temperature: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  topP: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMinimum: true })),
  policyVersion: Schema.optionalKey(Schema.String).annotate({
    description: "The policy version the caller expects; an Expander may answer with a newer one",
  }),
  grade: Schema.optionalKey(ExpandGradeSchema.annotate({
    description:
      "Grade every terminal candidate against this reference (sets `correct`), so a training search needs no ScoreRequest to grade (an Expander may leave it to a Scorer)",
  })),
}).annotate({ title: "ExpandRequest", description: "Ask for k candidate next steps after each of a wave's nodes" });
/** An expansion request. */
export type ExpandRequest = typeof ExpandRequest.Type;

/** The candidates of one ask. */
export const ExpandResultSchema = Schema.Struct({
  candidates: Schema.Array(CandidateSchema),
  policyVersion: Schema.String,
  tokens: Count.annotate({ description: "Tokens generated for this ask" }),
}).annotate({ title: "ExpandResult" });

/** The candidates an Expander wrote and executed, one result per ask, in the asks' order. */
export const ExpandReply = Schema.Struct({
  v: Version,
  id: Id,
  results: Schema.Array(ExpandResultSchema),
  worker: Schema.optionalKey(Schema.String.annotate({ description: "The answering worker's actor name" })),
  batchSize: Schema.optionalKey(Count.annotate({ description: "Asks folded into the largest batch that served this request" })),
  workMs: Schema.optionalKey(WorkMs),
}).annotate({ title: "ExpandReply", description: "Candidate next steps, executed" });
/** An expansion reply. */
export type ExpandReply = typeof ExpandReply.Type;

// ---------------------------------------------------------------------------------------------
// Scoring and grading

/** One (problem, steps so far, candidate) triple to score. */
export const ScoreItemSchema = Schema.Struct({
  problem: Schema.String,
  steps: Schema.Array(StepSchema),
  candidate: StepSchema,
}).annotate({ title: "ScoreItem" });

/** One terminal answer to grade against its reference. */
export const GradeItemSchema = Schema.Struct({
  answer: Schema.String,
  reference: Schema.String,
  steps: Schema.optionalKey(Schema.Array(StepSchema).annotate({ description: "The whole trajectory, terminal step included (needed with checks)" })),
  checks: Schema.optionalKey(Schema.Array(AnswerCheckSchema).annotate({
    description: "Variant answers the trajectory's code must also get (two thirds of them) to be graded correct",
  })),
}).annotate({ title: "GradeItem" }).check(Schema.makeFilter((g) =>
  g.checks !== undefined && g.steps === undefined
    ? { path: ["steps"], issue: "a grade item with checks needs the trajectory's steps" }
    : undefined
));
/** A grade item on the wire. */
export type GradeItem = typeof GradeItemSchema.Type;

/** Asks a Scorer for step values (and optionally grades). Subject `rstar.<run>.score`. */
export const ScoreRequest = Schema.Struct({
  v: Version,
  id: Id,
  items: Schema.Array(ScoreItemSchema),
  grade: Schema.optionalKey(Schema.Array(GradeItemSchema)),
}).annotate({ title: "ScoreRequest", description: "Score candidate steps; grade terminal answers" });
/** A scoring request. */
export type ScoreRequest = typeof ScoreRequest.Type;

/** Scores in [−1, 1], one per item, and grades, one per grade item. */
export const ScoreReply = Schema.Struct({
  v: Version,
  id: Id,
  scores: Schema.Array(Schema.Finite.check(Schema.isBetween({ minimum: -1, maximum: 1 }))),
  grades: Schema.optionalKey(Schema.Array(Schema.Boolean)),
  scorerVersion: Schema.String,
  worker: Schema.optionalKey(Schema.String.annotate({ description: "The answering worker's actor name" })),
  workMs: Schema.optionalKey(WorkMs),
}).annotate({ title: "ScoreReply", description: "Step values in [-1, 1] and grades" });
/** A scoring reply. */
export type ScoreReply = typeof ScoreReply.Type;

// ---------------------------------------------------------------------------------------------
// Training and models

/** Which model a training job trains. */
export const TrainKind = Schema.Literals(["policy", "ppm"]);

/** Asks a Trainer to train one model for a round. Subject `rstar.<run>.train`. */
export const TrainRequest = Schema.Struct({
  v: Version,
  id: Id,
  run: Schema.String,
  round: Count,
  kind: TrainKind,
  data: Schema.String.annotate({ description: "Blob name of the training data (JSONL) in the run's blob store" }),
  baseVersion: Schema.optionalKey(Schema.String),
  params: Schema.optionalKey(Schema.Record(Schema.String, Schema.Finite)),
}).annotate({ title: "TrainRequest", description: "Train a policy or PPM on a round's data" });
/** A training request. */
export type TrainRequest = typeof TrainRequest.Type;

/** The trained model's version, its weights' blob name and training metrics. */
export const TrainReply = Schema.Struct({
  v: Version,
  id: Id,
  round: Count,
  kind: TrainKind,
  version: Schema.String,
  blob: Schema.String,
  metrics: Schema.Record(Schema.String, Schema.Finite),
}).annotate({ title: "TrainReply", description: "A new model version, stored as a blob" });
/** A training reply. */
export type TrainReply = typeof TrainReply.Type;

/** Announces a new model version whose weights are in the blob store. Subject `rstar.<run>.model`. */
export const ModelPublished = Schema.Struct({
  v: Version,
  name: Schema.String.annotate({ description: "Model name, e.g. \"policy\" or \"ppm\"" }),
  version: Schema.String,
  blob: Schema.String.annotate({ description: "Blob name of the weights in the run's blob store" }),
  round: Schema.optionalKey(Count),
}).annotate({ title: "ModelPublished", description: "A new model version to load between batches" });
/** A model announcement. */
export type ModelPublished = typeof ModelPublished.Type;

// ---------------------------------------------------------------------------------------------
// Liveness and observability

/** Roles a worker can have. */
export const Role = Schema.Literals(["searcher", "expander", "scorer", "trainer", "supervisor", "coordinator"]);
/** A worker role. */
export type Role = typeof Role.Type;

/** A worker's periodic sign of life. Subject `rstar.<run>.heartbeat`. */
export const Heartbeat = Schema.Struct({
  v: Version,
  actor: Schema.String,
  role: Role,
  pid: Count,
  host: Schema.String,
  load: Schema.Finite.annotate({ description: "Requests in flight or queued" }),
  versions: Versions,
  at: Schema.optionalKey(Schema.Finite.annotate({ description: "Sender's clock, ms since the epoch" })),
}).annotate({ title: "Heartbeat", description: "A worker's periodic sign of life" });
/** A heartbeat. */
export type Heartbeat = typeof Heartbeat.Type;

/** Phases of a round. */
export const RoundPhase = Schema.Literals(["search", "extract", "train-policy", "train-ppm", "evaluate", "done"]);
/** A round phase. */
export type RoundPhase = typeof RoundPhase.Type;

const eventBase = { v: Version, run: Schema.String, at: Schema.optionalKey(Schema.Finite) };

/** A node of a search tree got children. */
export const NodeExpandedEvent = Schema.Struct({
  ...eventBase,
  kind: Schema.Literal("node-expanded"),
  problemId: Schema.String,
  node: Count,
  depth: Count,
  children: Count,
  policyVersion: Schema.optionalKey(Schema.String),
}).annotate({ title: "NodeExpandedEvent" });

/** A problem's search finished. */
export const ProblemSolvedEvent = Schema.Struct({
  ...eventBase,
  kind: Schema.Literal("problem-solved"),
  problemId: Schema.String,
  round: Count,
  answer: Schema.String,
  correct: Schema.optionalKey(Schema.Boolean),
  rollouts: Count,
}).annotate({ title: "ProblemSolvedEvent" });

/** A round entered a phase. */
export const RoundPhaseEvent = Schema.Struct({
  ...eventBase,
  kind: Schema.Literal("round-phase"),
  round: Count,
  phase: RoundPhase,
}).annotate({ title: "RoundPhaseEvent" });

/** A model version was published. */
export const ModelPublishedEvent = Schema.Struct({
  ...eventBase,
  kind: Schema.Literal("model-published"),
  name: Schema.String,
  version: Schema.String,
}).annotate({ title: "ModelPublishedEvent" });

/** The supervisor restarted a worker. */
export const WorkerRestartedEvent = Schema.Struct({
  ...eventBase,
  kind: Schema.Literal("worker-restarted"),
  actor: Schema.String,
  attempt: Count,
  reason: Schema.String,
}).annotate({ title: "WorkerRestartedEvent" });

/** Chaos mode injected a fault. */
export const FaultInjectedEvent = Schema.Struct({
  ...eventBase,
  kind: Schema.Literal("fault-injected"),
  fault: Schema.String,
  subject: Schema.optionalKey(Schema.String),
}).annotate({ title: "FaultInjectedEvent" });

/** Any event; `kind` matches the last token of its subject `rstar.<run>.events.<kind>`. */
export const Event = Schema.Union([
  NodeExpandedEvent,
  ProblemSolvedEvent,
  RoundPhaseEvent,
  ModelPublishedEvent,
  WorkerRestartedEvent,
  FaultInjectedEvent,
]).annotate({ title: "Event", description: "An observability event" });
/** An event. */
export type Event = typeof Event.Type;

// ---------------------------------------------------------------------------------------------
// Control

/** Search knobs a running system accepts in `set`. */
export const KnobKey = Schema.Literals(["rollouts", "k", "c", "temperature"]);
/** A search knob name. */
export type KnobKey = typeof KnobKey.Type;

/** Asks for the run's status. Subject `rstar.<run>.control.status`. */
export const StatusRequest = Schema.Struct({ v: Version, id: Id }).annotate({ title: "StatusRequest" });
/** A status request. */
export type StatusRequest = typeof StatusRequest.Type;

/** One worker as the supervisor sees it. */
export const WorkerStatus = Schema.Struct({
  actor: Schema.String,
  role: Role,
  host: Schema.String,
  pid: Count,
  load: Schema.Finite,
  lastSeenMs: Schema.Finite.annotate({ description: "Milliseconds since its last heartbeat" }),
}).annotate({ title: "WorkerStatus" });

/** The run's round, phase, progress, workers, model versions and knobs. */
export const StatusReply = Schema.Struct({
  v: Version,
  id: Id,
  run: Schema.String,
  round: Count,
  phase: Schema.String,
  paused: Schema.Boolean,
  progress: Schema.Struct({ done: Count, total: Count }),
  workers: Schema.Array(WorkerStatus),
  models: Versions,
  knobs: Schema.Record(Schema.String, Schema.Finite),
  chaos: Schema.optionalKey(
    Schema.String.annotate({ description: "The chaos spec in force (its canonical text, as a ChaosReply gives it); absent when none" }),
  ),
}).annotate({ title: "StatusReply" });
/** A status reply. */
export type StatusReply = typeof StatusReply.Type;

/** Pauses the search (in-flight requests finish). Subject `rstar.<run>.control.pause`. */
export const PauseRequest = Schema.Struct({ v: Version, id: Id }).annotate({ title: "PauseRequest" });
/** A pause request. */
export type PauseRequest = typeof PauseRequest.Type;

/** Resumes a paused search. Subject `rstar.<run>.control.resume`. */
export const ResumeRequest = Schema.Struct({ v: Version, id: Id }).annotate({ title: "ResumeRequest" });
/** A resume request. */
export type ResumeRequest = typeof ResumeRequest.Type;

/** The run state after pause or resume. */
export const RunStateReply = Schema.Struct({
  v: Version,
  id: Id,
  state: Schema.Literals(["running", "paused"]),
}).annotate({ title: "RunStateReply" });
/** A pause/resume reply. */
export type RunStateReply = typeof RunStateReply.Type;
/** Reply to `pause`. */
export const PauseReply = RunStateReply;
/** Reply to `resume`. */
export const ResumeReply = RunStateReply;

/** Sets a search knob for problems not yet started. Subject `rstar.<run>.control.set`. */
export const SetRequest = Schema.Struct({
  v: Version,
  id: Id,
  key: KnobKey,
  value: Schema.Finite,
}).annotate({ title: "SetRequest" });
/** A set request. */
export type SetRequest = typeof SetRequest.Type;

/** The knob's new value, and its previous one when it had been set before. */
export const SetReply = Schema.Struct({
  v: Version,
  id: Id,
  key: KnobKey,
  value: Schema.Finite,
  previous: Schema.optionalKey(Schema.Finite),
}).annotate({ title: "SetReply" });
/** A set reply. */
export type SetReply = typeof SetReply.Type;

/** Solves one problem with the latest models. Subject `rstar.<run>.control.solve`. */
export const SolveRequest = Schema.Struct({
  v: Version,
  id: Id,
  problem: Schema.String.check(Schema.isMinLength(1)),
  rollouts: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: MAX_ROLLOUTS }))),
}).annotate({ title: "SolveRequest" });
/** A solve request. */
export type SolveRequest = typeof SolveRequest.Type;

/** The answer, the steps that produced it, and the model versions used. */
export const SolveReply = Schema.Struct({
  v: Version,
  id: Id,
  answer: Schema.String.annotate({ description: "Empty when no terminal step was found" }),
  steps: Schema.Array(StepSchema),
  outputs: Schema.optionalKey(
    Schema.Array(Schema.String).annotate({ description: "What each step's code printed, one entry per step" }),
  ),
  value: Schema.optionalKey(Schema.Finite),
  versions: Versions,
}).annotate({ title: "SolveReply" });
/** A solve reply. */
export type SolveReply = typeof SolveReply.Type;

/** Replaces the chaos spec at run time (empty string: no faults). Subject `rstar.<run>.control.chaos`. */
export const ChaosRequest = Schema.Struct({
  v: Version,
  id: Id,
  spec: Schema.String.annotate({ description: "e.g. \"drop=0.1,dup=0.05,delay=0-100ms\" (see protocols/chaosBus.ts)" }),
}).annotate({ title: "ChaosRequest" });
/** A chaos request. */
export type ChaosRequest = typeof ChaosRequest.Type;

/** The spec now in force, normalised. */
export const ChaosReply = Schema.Struct({
  v: Version,
  id: Id,
  spec: Schema.String,
}).annotate({ title: "ChaosReply" });
/** A chaos reply. */
export type ChaosReply = typeof ChaosReply.Type;

/** Request and reply schema of each control verb. */
export const ControlMessages = {
  status: { request: StatusRequest, reply: StatusReply },
  pause: { request: PauseRequest, reply: PauseReply },
  resume: { request: ResumeRequest, reply: ResumeReply },
  set: { request: SetRequest, reply: SetReply },
  solve: { request: SolveRequest, reply: SolveReply },
  chaos: { request: ChaosRequest, reply: ChaosReply },
} as const;

// ---------------------------------------------------------------------------------------------
// Errors

/** Error codes of an `ErrorReply`. */
export const ErrorCodes = ["BadRequest", "VersionMismatch", "TooLarge", "Internal", "Unavailable"] as const;
/** Schema of an error code. */
export const ErrorCode = Schema.Literals(ErrorCodes);
/** An error code. */
export type ErrorCode = typeof ErrorCode.Type;

/** A responder's answer when it cannot serve a request. The `Rstar-Error` header carries the code too. */
export const ErrorReply = Schema.Struct({
  v: Version,
  id: Schema.optionalKey(Schema.String).annotate({ description: "The request's id, when it could be read" }),
  error: Schema.Struct({ code: ErrorCode, message: Schema.String }),
}).annotate({ title: "ErrorReply", description: "Why a request was refused or failed" });
/** An error reply. */
export type ErrorReply = typeof ErrorReply.Type;

/** A message that could not be served and had no reply subject. Subject `rstar.<run>.deadletter`. */
export const DeadLetter = Schema.Struct({
  v: Version,
  subject: Schema.String,
  reason: ErrorCode,
  message: Schema.String,
  sample: Schema.String.annotate({ description: "The first bytes of the payload, as text" }),
  size: Count.annotate({ description: "Payload size in bytes" }),
}).annotate({ title: "DeadLetter", description: "Record of a message that could not be served" });
/** A dead-letter record. */
export type DeadLetter = typeof DeadLetter.Type;
